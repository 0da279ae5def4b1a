/**
 * Prometheus metrics of a `live` instance: `import { registerMetrics } from 'express-channel/metrics'`.
 * Guide: docs/operations.md.
 * @module express-channel/metrics
 */
// express-channel/metrics: Prometheus metrics of a `live` instance, through prom-client (an
// optional peer dependency, loaded only by this entry). Named exports only.
export { registerMetrics } from './register.js';
export type { LiveMetrics, MetricsOptions } from './register.js';
