// express-channel/metrics: Prometheus metrics of a `live` instance, through prom-client (an
// optional peer dependency, loaded only by this entry). Named exports only.
export { registerMetrics } from './register.js';
export type { LiveMetrics, MetricsOptions } from './register.js';
