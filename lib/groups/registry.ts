import type { Adapter, AdapterMessage } from './adapter.js';
import { newChannelId } from '../channel/ids.js';
import { ChannelError } from '../errors.js';
import { toPayload } from '../transports/payload.js';
import { ChannelGroup, deliverLocally, deliverLost, observe, type BroadcastOptions, type GroupObserver } from './group.js';
import type { Payload } from '../transports/wire.js';
import type { FanOutTimes } from './fan-out-times.js';

/** What went through the adapter, for metrics. */
export interface AdapterCounters {
  /** Broadcasts handed to `adapter.publish`. */
  published: number;
  /** Of those, the ones whose publish threw or rejected. */
  publishFailed: number;
  /** Broadcasts of other processes received, whether or not a member was here. */
  received: number;
}

/**
 * `live.group(name)`: the same group for the same name, without growing with churn. A group
 * with members is held strongly; an empty one only weakly, so it disappears once nobody
 * holds it, yet stays the one returned while somebody does.
 */
export class GroupRegistry implements GroupObserver {
  readonly #occupied = new Map<string, ChannelGroup>();
  readonly #known = new Map<string, WeakRef<ChannelGroup>>();
  readonly #forget = new FinalizationRegistry<string>((name) => this.#forgetIfCollected(name));
  readonly #adapter: Adapter | undefined;
  readonly #onAdapterError: (error: unknown) => void;
  readonly #origin = newChannelId();
  readonly adapterCounters: AdapterCounters = { published: 0, publishFailed: 0, received: 0 };
  /**
   * False until the adapter's `subscribe` has settled the first time (it is connected and
   * listening): a process is not ready to serve before then. True with no adapter.
   */
  adapterStarted = true;
  /** Set by `express-channel/metrics`: until then no broadcast reads the clock. */
  fanOutTimes: FanOutTimes | undefined;

  constructor(adapter: Adapter | undefined, onAdapterError: (error: unknown) => void) {
    this.#adapter = adapter;
    this.#onAdapterError = onAdapterError;
    if (adapter !== undefined) {
      const events = { missed: (group: string, count: number) => this.#missed(group, count), error: onAdapterError };
      this.adapterStarted = false;
      Promise.resolve(adapter.subscribe((message) => this.#deliverRemote(message), events)).then(() => (this.adapterStarted = true), onAdapterError);
    }
  }

  group(name: string): ChannelGroup {
    const existing = this.#occupied.get(name) ?? this.#known.get(name)?.deref();
    if (existing !== undefined) return existing;
    const group = new ChannelGroup(name);
    observe(group, this);
    this.#known.set(name, new WeakRef(group));
    this.#forget.register(group, name);
    return group;
  }

  /** Members of the group called `name` on this process (0 when nobody holds it). */
  membersOf(name: string): number {
    return this.#occupied.get(name)?.size ?? 0;
  }

  /** Names known right now (occupied or not yet collected). */
  get size(): number {
    return this.#known.size;
  }

  occupied(group: ChannelGroup): void {
    if (group.name !== undefined) this.#occupied.set(group.name, group);
  }

  emptied(group: ChannelGroup): void {
    if (group.name !== undefined) this.#occupied.delete(group.name);
  }

  resized(group: ChannelGroup): void {
    if (group.name !== undefined) this.#adapter?.resized?.(group.name, group.size);
  }

  count(group: ChannelGroup): Promise<number> {
    const count = this.#adapter?.count;
    if (count === undefined || group.name === undefined) return Promise.resolve(group.size);
    return count.call(this.#adapter, group.name, group.size);
  }

  published(group: ChannelGroup, payload: Payload, options: BroadcastOptions): void {
    if (this.#adapter === undefined || group.name === undefined) return;
    const message: AdapterMessage = { origin: this.#origin, group: group.name, payload, fields: { event: options.event, id: options.id } };
    const adapter = this.#adapter;
    const counters = this.adapterCounters;
    counters.published++;
    // A failing adapter must not take the local broadcast down with it: report and go on.
    Promise.resolve()
      .then(() => adapter.publish(message))
      .catch((error: unknown) => {
        counters.publishFailed++;
        this.#onAdapterError(error);
      });
  }

  #deliverRemote(message: AdapterMessage): void {
    if (message.origin === this.#origin) return; // our own broadcast, already delivered here
    this.adapterCounters.received++;
    // A serialising transport may hand bytes back as a plain Uint8Array: make them a Buffer.
    const group = this.#occupied.get(message.group);
    if (group !== undefined) deliverLocally(group, toPayload(message.payload), message.fields);
  }

  // Pub/sub is at-most-once: what a reconnecting subscriber missed is gone. Never silently.
  #missed(group: string, count: number): void {
    const local = this.#occupied.get(group);
    if (local === undefined) return; // no member here could have missed it
    deliverLost(local, count);
    this.#onAdapterError(new ChannelError('ERR_CHANNEL_BROADCASTS_MISSED', `${count} broadcast(s) of group "${group}" from another process were lost on the way to this one`));
  }

  #forgetIfCollected(name: string): void {
    // The name may have been given a new group since; only drop a dead entry.
    if (this.#known.get(name)?.deref() === undefined) this.#known.delete(name);
  }
}
