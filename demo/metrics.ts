// Samples live.stats() on a timer, turns the counters into rates and pushes each sample to
// every tab in `audience`; keeps the last minute so a new tab draws a full chart.
import type { ChannelGroup, ChannelStats, Live } from '../lib/index.js';
import type { MetricsPoint, ServerMessage } from './messages.js';

export interface MetricsOptions {
  /** ms between samples. @defaultValue 1000 */
  interval?: number;
  /** Samples kept for new viewers. @defaultValue 60 */
  keep?: number;
  /** In the cluster demo: this process's name, and the group whose cluster-wide size to show. */
  cluster?: { process: string; everyone: ChannelGroup } | undefined;
}

export class Metrics {
  readonly history: MetricsPoint[] = [];
  readonly #live: Live;
  readonly #audience: ChannelGroup;
  /** ms between samples. */
  readonly interval: number;
  readonly #keep: number;
  readonly #cluster: MetricsOptions['cluster'];
  #timer: NodeJS.Timeout | undefined;
  #last: { t: number; stats: ChannelStats };

  constructor(live: Live, audience: ChannelGroup, options: MetricsOptions = {}) {
    this.#live = live;
    this.#audience = audience;
    this.interval = options.interval ?? 1000;
    this.#keep = options.keep ?? 60;
    this.#cluster = options.cluster;
    this.#last = { t: Date.now(), stats: live.stats() };
  }

  start(): void {
    this.#timer ??= setInterval(() => this.sample(), this.interval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Takes one sample now and broadcasts it. */
  sample(): MetricsPoint {
    const t = Date.now();
    const stats = this.#live.stats();
    const seconds = Math.max(t - this.#last.t, 1) / 1000;
    const point: MetricsPoint = {
      t,
      open: stats.open,
      sentPerSecond: round((stats.sent - this.#last.stats.sent) / seconds),
      receivedPerSecond: round((stats.received - this.#last.stats.received) / seconds),
      queued: stats.queued,
    };
    this.#last = { t, stats };
    this.history.push(point);
    if (this.history.length > this.#keep) this.history.shift();
    if (this.#cluster === undefined) this.#publish(point);
    else this.#withCluster(point, this.#cluster, stats).catch((error: unknown) => console.error('express-channel demo: metrics', error));
    return point;
  }

  /** Adds the cluster-wide numbers (one Redis round trip) before the sample goes out. */
  async #withCluster(point: MetricsPoint, cluster: NonNullable<MetricsOptions['cluster']>, stats: ChannelStats): Promise<void> {
    const tabs = await cluster.everyone.count().catch(() => cluster.everyone.size); // Redis away: this process's own count (and adapter.connected says so)
    point.cluster = { process: cluster.process, tabs, here: cluster.everyone.size, adapter: stats.adapter };
    if (this.#timer !== undefined) this.#publish(point); // not once stopped: the demo is closing
  }

  #publish(point: MetricsPoint): void {
    const message: ServerMessage = { type: 'metrics', point };
    this.#audience.broadcast(JSON.stringify(message));
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
