import { Counter, Gauge, type Registry } from 'prom-client';
import type { Live } from '../channels.js';
import { hubOf } from '../hub.js';
import { invalidArgument } from '../errors.js';
import { FanOutTimes } from '../groups/fan-out-times.js';
import type { ChannelHub } from '../hub.js';
import { ScrapedHistogram } from './fan-out-histogram.js';
import { metricList, type MetricSpec } from './metric-list.js';

/** Options of {@link registerMetrics}. */
export interface MetricsOptions {
  /** The prom-client registry to register on (`new Registry()`, or prom-client's `register`). */
  registry: Registry;
  /**
   * Prefix of every metric name; give each `live` instance its own when one registry holds
   * several.
   * @defaultValue `'express_channel_'`
   */
  prefix?: string;
  /**
   * Named groups whose member count to export as `<prefix>group_members{group}`. Group
   * names are left out unless listed here, so that a label set stays bounded.
   * @defaultValue `[]`
   */
  groups?: readonly string[];
}

/** What {@link registerMetrics} returns. */
export interface LiveMetrics {
  /** The names of the metrics registered, prefix included. */
  readonly names: readonly string[];
  /**
   * Removes them from the registry. The counters keep counting and registering again resumes
   * them; broadcasts stop timing their fan-out until then.
   */
  unregister(): void;
}

/**
 * Registers collectors for `live` on a prom-client registry. Every value is read from the
 * library's own counters when the registry is scraped; the only work added to a broadcast
 * is two clock reads for the fan-out histogram. The metrics are listed in
 * [docs/operations.md](../../docs/operations.md).
 * @param live - what `channels()` returned.
 * @param options - the registry, and optionally a prefix and the groups to export.
 * @throws TypeError (`ERR_CHANNEL_INVALID_OPTION`) when `live` did not come from this copy of
 * express-channel, or `registry` is not a prom-client registry.
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerMetrics } from 'express-channel/metrics';
 * const registry = new Registry();
 * registerMetrics(live, { registry });
 * app.get('/metrics', async (_req, res) => {
 *   res.type(registry.contentType).send(await registry.metrics());
 * });
 * ```
 */
export function registerMetrics(live: Live, options: MetricsOptions): LiveMetrics {
  const hub = hubOf(live);
  if (hub === undefined) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', 'registerMetrics(live, options) takes what channels() returned; if the app both imports and requires express-channel, use one of the two for both entries');
  }
  const registry = options?.registry as Partial<Registry> | undefined;
  if (typeof registry?.registerMetric !== 'function' || typeof registry.removeSingleMetric !== 'function') {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', 'registerMetrics(live, { registry }) takes a prom-client Registry (new Registry() or prom-client\'s register)');
  }
  const prefix = options.prefix ?? 'express_channel_';
  const specs = metricList(hub, options.groups ?? []);
  const names = specs.map((spec) => prefix + spec.name);
  for (const spec of specs) register(spec, { name: prefix + spec.name, registry: options.registry, hub });
  timeFanOuts(hub, +1);
  let registered = true;
  return {
    names,
    unregister: () => {
      if (!registered) return;
      registered = false;
      for (const name of names) options.registry.removeSingleMetric(name);
      timeFanOuts(hub, -1);
    },
  };
}

// Broadcasts read the clock only while some registration shows the histogram; the buckets
// outlive an unregister, so a registration that comes back resumes the same counts.
const fanOutTimes = new WeakMap<ChannelHub, { times: FanOutTimes; registrations: number }>();

function timeFanOuts(hub: ChannelHub, change: 1 | -1): void {
  const entry = fanOutTimesOf(hub);
  entry.registrations += change;
  hub.groups.fanOutTimes = entry.registrations > 0 ? entry.times : undefined;
}

function fanOutTimesOf(hub: ChannelHub): { times: FanOutTimes; registrations: number } {
  let entry = fanOutTimes.get(hub);
  if (entry === undefined) fanOutTimes.set(hub, (entry = { times: new FanOutTimes(), registrations: 0 }));
  return entry;
}

function register(spec: MetricSpec, { name, registry, hub }: { name: string; registry: Registry; hub: ChannelHub }): void {
  if (spec.kind === 'histogram') {
    new ScrapedHistogram({ name, help: spec.help, registry }, fanOutTimesOf(hub).times);
    return;
  }
  const config = { name, help: spec.help, registers: [registry], labelNames: spec.label === undefined ? [] : [spec.label] };
  const { read, label } = spec;
  if (spec.kind === 'counter') {
    // Read from our counters and set afresh at each scrape (prom-client counters have no set()).
    new Counter({
      ...config,
      collect() {
        this.reset();
        eachValue(read(), label, (labels, value) => this.inc(labels, value));
      },
    });
    return;
  }
  new Gauge({
    ...config,
    collect() {
      this.reset();
      eachValue(read(), label, (labels, value) => this.set(labels, value));
    },
  });
}

// A metric reads one number, or one per label value.
function eachValue(read: number | Record<string, number>, label: string | undefined, put: (labels: Record<string, string>, value: number) => void): void {
  if (typeof read === 'number') return put({}, read);
  for (const [labelValue, value] of Object.entries(read)) put({ [label as string]: labelValue }, value);
}
