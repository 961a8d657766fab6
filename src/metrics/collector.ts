/**
 * The counts behind `smtp_intercept_*` metrics, kept for one interceptor. Every label takes a value
 * from a small closed set (outcome, reply class, phase, scope, store operation): never a rule id,
 * domain or recipient, whose cardinality grows with the traffic.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { channels, type StoreErrorMessage } from '../diagnostics.js';
import type { ForcedResult, Interceptor, Rule } from '../index.js';

/** One series: label values by label name, and its value. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric with all its series. */
export interface MetricFamily {
  /** Full name, `smtp_intercept_...`. */
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  /** The label names every sample carries, in order. */
  readonly labelNames: readonly string[];
  readonly samples: readonly Sample[];
}

/** A counter keyed by its joined label values; bounded because every label's values are a closed set. */
class Series {
  readonly #values = new Map<string, number>();
  constructor(readonly labelNames: readonly string[]) {}
  add(values: readonly string[], by = 1): void {
    const key = values.join('\u0000');
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }
  samples(): Sample[] {
    return [...this.#values].map(([key, value]) => {
      const parts = key.split('\u0000');
      return { labels: Object.fromEntries(this.labelNames.map((name, i) => [name, parts[i] ?? ''])), value };
    });
  }
}

const replyClass = (code: number): string => `${String(code)[0]}xx`;

/**
 * Counts one interceptor's checks, forced results, rules and store errors, for Prometheus or any
 * other metrics system. `serve` renders it at `GET /metrics`; `registerMetrics` (subpath
 * `smtp-intercept/prom-client`) exposes it in a prom-client registry.
 *
 * @example
 * ```ts
 * const metrics = new MetricsCollector(interceptor)
 * http.get('/metrics', (_req, res) => res.type('text/plain').send(prometheusText(metrics.collect())))
 * ```
 */
export class MetricsCollector {
  readonly #checks = new Series(['outcome']);
  readonly #forced = new Series(['class', 'phase']);
  readonly #storeErrors = new Series(['operation']);
  readonly #rules = { cluster: 0, instance: 0 };
  readonly #stop: (() => void)[] = [];

  constructor(interceptor: Interceptor) {
    for (const rule of interceptor.list()) this.#rules[rule.cluster ? 'cluster' : 'instance']++;
    this.#stop.push(interceptor.observe((_attempt, result) => this.#checked(result)));
    const added = (rule: Rule) => { this.#rules[rule.cluster ? 'cluster' : 'instance']++; };
    const removed = (rule: Rule) => { this.#rules[rule.cluster ? 'cluster' : 'instance']--; };
    interceptor.on('rule:added', added);
    interceptor.on('rule:removed', removed);
    this.#stop.push(() => { interceptor.off('rule:added', added); interceptor.off('rule:removed', removed); });
    // Store failures of awaited calls never reach the `error` event: the channel carries both kinds.
    const storeError = (message: unknown) => {
      const m = message as StoreErrorMessage;
      if (m.interceptor === interceptor) this.#storeErrors.add([m.operation]);
    };
    subscribe(channels.storeError, storeError);
    this.#stop.push(() => unsubscribe(channels.storeError, storeError));
  }

  #checked(result: ForcedResult | undefined): void {
    if (result === undefined) {
      this.#checks.add(['passed']);
      return;
    }
    this.#checks.add([result.outcome]);
    this.#forced.add([result.fault === undefined ? replyClass(result.code) : 'fault', result.phase]);
  }

  /** Every metric with its current samples. */
  collect(): MetricFamily[] {
    return [
      { name: 'smtp_intercept_checks_total', help: 'Checked attempts by outcome (passed: no rule forced a result).', type: 'counter', labelNames: ['outcome'], samples: this.#checks.samples() },
      { name: 'smtp_intercept_forced_total', help: 'Forced results by reply code class and SMTP phase.', type: 'counter', labelNames: ['class', 'phase'], samples: this.#forced.samples() },
      {
        name: 'smtp_intercept_rules', help: 'Active rules by scope.', type: 'gauge', labelNames: ['scope'],
        samples: [{ labels: { scope: 'cluster' }, value: this.#rules.cluster }, { labels: { scope: 'instance' }, value: this.#rules.instance }],
      },
      { name: 'smtp_intercept_store_errors_total', help: 'Rule store failures by operation (add, remove, clear, background).', type: 'counter', labelNames: ['operation'], samples: this.#storeErrors.samples() },
    ];
  }

  /** Stops counting (detaches from the interceptor and the channel). */
  close(): void {
    for (const stop of this.#stop.splice(0)) stop();
  }
}
