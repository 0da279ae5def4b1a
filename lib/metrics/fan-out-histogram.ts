import { Histogram, type Registry } from 'prom-client';
import { fanOutBuckets, type FanOutTimes } from '../groups/fan-out-times.js';

// prom-client does not export the names of these shapes.
type Snapshot = Awaited<ReturnType<Histogram['get']>>;
type Value = Snapshot['values'][number];

/**
 * A prom-client `Histogram` whose buckets are kept by the library (`FanOutTimes`) and read
 * at scrape time. prom-client's own `observe` would run on every broadcast and hash labels
 * there; reading our counts costs the send path nothing but the recording itself.
 */
export class ScrapedHistogram extends Histogram {
  readonly #times: FanOutTimes;
  readonly #name: string;
  readonly #help: string;

  constructor(config: { name: string; help: string; registry: Registry }, times: FanOutTimes) {
    super({ name: config.name, help: config.help, buckets: [...fanOutBuckets], registers: [config.registry] });
    this.#times = times;
    this.#name = config.name;
    this.#help = config.help;
  }

  // The registry calls one of these two when it builds the text or the JSON: both read here.
  override get(): Promise<Snapshot> {
    return Promise.resolve(this.#snapshot());
  }

  getForPromString(): Promise<Snapshot> {
    return Promise.resolve(this.#snapshot());
  }

  #snapshot(): Snapshot {
    const times = this.#times;
    const values: Value[] = [];
    let cumulative = 0;
    fanOutBuckets.forEach((bound, i) => {
      cumulative += times.counts[i] as number;
      values.push({ metricName: `${this.#name}_bucket`, labels: { le: bound }, value: cumulative });
    });
    values.push({ metricName: `${this.#name}_bucket`, labels: { le: '+Inf' }, value: times.count });
    values.push({ metricName: `${this.#name}_sum`, labels: {}, value: times.sum });
    values.push({ metricName: `${this.#name}_count`, labels: {}, value: times.count });
    // prom-client's types ask for its enum and a collect function that its registry never reads here.
    return { name: this.#name, help: this.#help, type: 'histogram', values, aggregator: 'sum' } as unknown as Snapshot;
  }
}
