/**
 * Prometheus text exposition format 0.0.4 of a {@link MetricFamily} list, for `GET /metrics` without
 * a metrics library.
 */
import type { MetricFamily } from './collector.js';

/** The `Content-Type` of {@link prometheusText}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

// Label values are escaped as the format requires (backslash, double quote, newline); HELP text
// escapes backslash and newline.
const labelValue = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const helpText = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/**
 * The families as Prometheus text: `# HELP`, `# TYPE`, then one line per sample.
 *
 * @example
 * ```ts
 * res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(prometheusText(collector.collect()))
 * ```
 */
export function prometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${helpText(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = family.labelNames.map((name) => `${name}="${labelValue(sample.labels[name] ?? '')}"`).join(',');
      lines.push(`${family.name}${labels ? `{${labels}}` : ''} ${sample.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
