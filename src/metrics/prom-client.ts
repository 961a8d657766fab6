/**
 * `smtp-intercept/prom-client`: the `smtp_intercept_*` metrics of one interceptor in a prom-client
 * registry, read from a {@link MetricsCollector} at each scrape (one set of counts for `serve`'s
 * `/metrics` and for embedders). prom-client is an optional peer dependency loaded only by this subpath.
 */
import { Counter, Gauge, type Registry, register as globalRegistry } from 'prom-client';
import type { Interceptor } from '../index.js';
import { type MetricFamily, MetricsCollector } from './collector.js';

/** Options of {@link registerMetrics}. */
export interface RegisterMetricsOptions {
  /** The registry to register in. @default prom-client's global `register` */
  registry?: Registry;
}

/** What {@link registerMetrics} registered; `unregister()` removes the metrics and stops counting. */
export interface RegisteredMetrics {
  readonly collector: MetricsCollector;
  unregister(): void;
}

/**
 * Registers `smtp_intercept_checks_total`, `smtp_intercept_forced_total`, `smtp_intercept_rules` and
 * `smtp_intercept_store_errors_total` for `interceptor` in a prom-client registry.
 * @throws prom-client's error when a metric of the same name is already registered there (one
 * interceptor per registry).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client'
 * import { registerMetrics } from 'smtp-intercept/prom-client'
 * const registry = new Registry()
 * registerMetrics(interceptor, { registry })
 * app.get('/metrics', async (_req, res) => res.type(registry.contentType).send(await registry.metrics()))
 * ```
 */
export function registerMetrics(interceptor: Interceptor, options: RegisterMetricsOptions = {}): RegisteredMetrics {
  const registry = options.registry ?? globalRegistry;
  const collector = new MetricsCollector(interceptor);
  const names: string[] = [];
  try {
    for (const family of collector.collect()) {
      const current = (): MetricFamily => collector.collect().find((f) => f.name === family.name)!;
      const config = { name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] };
      if (family.type === 'counter') {
        new Counter({ ...config, collect(this: Counter) { this.reset(); for (const s of current().samples) this.inc(s.labels, s.value); } });
      } else {
        new Gauge({ ...config, collect(this: Gauge) { this.reset(); for (const s of current().samples) this.set(s.labels, s.value); } });
      }
      names.push(family.name);
    }
  } catch (err) {
    for (const name of names) registry.removeSingleMetric(name);
    collector.close();
    throw err;
  }
  return {
    collector,
    unregister() {
      for (const name of names) registry.removeSingleMetric(name);
      collector.close();
    },
  };
}
