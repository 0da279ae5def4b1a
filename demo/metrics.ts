// Samples live.stats() on a timer, turns the counters into rates and pushes each sample to
// every tab in `audience`; keeps the last minute so a new tab draws a full chart.
import type { ChannelGroup, ChannelStats, Live } from '../lib/index.js';
import type { MetricsPoint, ServerMessage } from './messages.js';

export interface MetricsOptions {
  /** ms between samples. @defaultValue 1000 */
  interval?: number;
  /** Samples kept for new viewers. @defaultValue 60 */
  keep?: number;
}

export class Metrics {
  readonly history: MetricsPoint[] = [];
  readonly #live: Live;
  readonly #audience: ChannelGroup;
  /** ms between samples. */
  readonly interval: number;
  readonly #keep: number;
  #timer: NodeJS.Timeout | undefined;
  #last: { t: number; stats: ChannelStats };

  constructor(live: Live, audience: ChannelGroup, options: MetricsOptions = {}) {
    this.#live = live;
    this.#audience = audience;
    this.interval = options.interval ?? 1000;
    this.#keep = options.keep ?? 60;
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
    const message: ServerMessage = { type: 'metrics', point };
    this.#audience.broadcast(JSON.stringify(message));
    return point;
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
