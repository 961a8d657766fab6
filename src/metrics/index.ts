/**
 * `smtp-intercept/metrics`: counts of one interceptor's checks, forced results, rules and store
 * errors, and their Prometheus text form. No dependencies; for prom-client see
 * `smtp-intercept/prom-client`.
 */
export { MetricsCollector } from './collector.js';
export type { MetricFamily, Sample } from './collector.js';
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from './exposition.js';
