import { Channel, channelOf, coreOf } from './channel.js';
import type { ChannelCore } from './core.js';

/** `live.channels`: the open channels, as a read-only view of the cores the hub keeps. */
export class ChannelSetView implements ReadonlySet<Channel> {
  readonly #cores: ReadonlySet<ChannelCore>;

  constructor(cores: ReadonlySet<ChannelCore>) {
    this.#cores = cores;
  }

  get size(): number {
    return this.#cores.size;
  }

  has(channel: Channel): boolean {
    return channel instanceof Channel && this.#cores.has(coreOf(channel));
  }

  *values(): SetIterator<Channel> {
    for (const core of this.#cores) yield channelOf(core);
  }

  keys(): SetIterator<Channel> {
    return this.values();
  }

  *entries(): SetIterator<[Channel, Channel]> {
    for (const channel of this.values()) yield [channel, channel];
  }

  forEach(callback: (value: Channel, key: Channel, set: ReadonlySet<Channel>) => void, thisArg?: unknown): void {
    for (const channel of this.values()) callback.call(thisArg, channel, channel, this);
  }

  [Symbol.iterator](): SetIterator<Channel> {
    return this.values();
  }
}
