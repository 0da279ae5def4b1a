import { Channel, channelOf, coreOf } from '../channel/channel.js';
import type { ChannelCore, Membership } from '../channel/core.js';
import { assertKnownOptions } from '../channel/option-names.js';
import { unsendable } from '../channel/send-data.js';
import { LoggedMessage, MessageLog } from '../sessions/message-log.js';
import { toPayload, type Payload } from '../transports/payload.js';
import { assertNotReserved, assertSseFields } from '../transports/sse-format.js';
import type { FanOutTimes } from './fan-out-times.js';

/** Options of {@link ChannelGroup.broadcast}. */
export interface BroadcastOptions {
  /** A member (or several) not to send to: typically the sender of a chat message. */
  except?: Channel | Iterable<Channel>;
  /** SSE `event:` field. */
  event?: string | undefined;
  /** SSE `id:` field. */
  id?: string | number | undefined;
}

const broadcastOptionNames = Object.keys({ except: true, event: true, id: true } satisfies Record<keyof BroadcastOptions, true>);

/** Told when a group gains its first member or loses its last, of each size change and each broadcast. */
export interface GroupObserver {
  /** Where delivery times go, when metrics asked for them. */
  readonly fanOutTimes: FanOutTimes | undefined;
  occupied(group: ChannelGroup): void;
  emptied(group: ChannelGroup): void;
  resized(group: ChannelGroup): void;
  published(group: ChannelGroup, payload: Payload, options: BroadcastOptions): void;
  /** Members on every process (with an adapter that counts them). */
  count(group: ChannelGroup): Promise<number>;
}

// The library's own ways into a group (the registry's observer, adapter deliveries, the log
// for tests), as module functions rather than members: a user's code cannot reach them.
let observeGroup: (group: ChannelGroup, observer: GroupObserver) => void;
let deliverToGroup: (group: ChannelGroup, payload: Payload, options: BroadcastOptions) => number;
let logOfGroup: (group: ChannelGroup) => MessageLog;
let deliverLostToGroup: (group: ChannelGroup) => number;

/**
 * http-kit's `ChannelGroup`: a set of channels that receive broadcasts together. Channels of
 * every transport may be members; a channel that closes leaves by itself.
 */
export class ChannelGroup implements Iterable<Channel> {
  static {
    observeGroup = (group, observer) => (group.#observer = observer);
    deliverToGroup = (group, payload, options) => group.#deliver(payload, options);
    logOfGroup = (group) => group.#log;
    deliverLostToGroup = (group) => group.#deliverLost(lostBroadcast(group.#log));
  }

  /** The group's name in its registry, or undefined for a standalone group. */
  readonly name: string | undefined;
  readonly #members = new Set<ChannelCore>();
  #observer: GroupObserver | undefined;
  // Broadcasts to session members, kept once for all of them until acknowledged.
  readonly #log = new MessageLog();
  // What each member's core knows of this group: its log, and the way out when it closes.
  readonly #membership: Membership;

  constructor(name?: string) {
    this.name = name;
    this.#membership = { group: name, log: this.#log, leave: (core) => this.#remove(core) };
  }

  /** How many channels are members on this process. */
  get size(): number {
    return this.#members.size;
  }

  /**
   * How many channels are members on every process: with an adapter that counts (the Redis
   * one does), the sum over the processes alive; otherwise `size`.
   */
  count(): Promise<number> {
    return this.#observer?.count(this) ?? Promise.resolve(this.#members.size);
  }

  /** Adds (and claims) `channel`. A closed channel is not added. Returns the group. */
  add(channel: Channel): this {
    const core = coreOf(channel);
    if (this.#members.has(core) || !core.joined(this.#membership)) return this;
    this.#members.add(core);
    if (this.#members.size === 1) this.#observer?.occupied(this);
    this.#observer?.resized(this);
    return this;
  }

  /** Removes `channel`; true if it was a member. */
  delete(channel: Channel): boolean {
    return this.#remove(coreOf(channel));
  }

  /** Whether `channel` is a member. */
  has(channel: Channel): boolean {
    return channel instanceof Channel && this.#members.has(coreOf(channel));
  }

  /** The members, in the order they joined. */
  *[Symbol.iterator](): IterableIterator<Channel> {
    for (const core of this.#members) yield channelOf(core);
  }

  /**
   * Sends `data` to every member, encoding it once per transport. With an adapter, the
   * group's members on other processes receive it too. Returns the local members reached.
   */
  broadcast(data: string | Buffer | Uint8Array, options: BroadcastOptions = {}): number {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) throw unsendable('broadcast', data);
    assertKnownOptions('broadcast()', options, broadcastOptionNames);
    assertSseFields(options);
    assertNotReserved(options.event); // members may be sessions
    const payload = toPayload(data);
    this.#observer?.published(this, payload, options);
    return this.#deliver(payload, options);
  }

  #remove(core: ChannelCore): boolean {
    if (!this.#members.delete(core)) return false;
    core.left(this.#membership);
    if (this.#members.size === 0) this.#observer?.emptied(this);
    this.#observer?.resized(this);
    return true;
  }

  // Sends to this process's members only (adapter deliveries come here too).
  #deliver(payload: Payload, options: BroadcastOptions): number {
    const message = new LoggedMessage(payload, { event: options.event, id: options.id }, this.#log);
    const except = options.except;
    const skip = except === undefined ? undefined : new Set(except instanceof Channel ? [coreOf(except)] : [...except].map(coreOf));
    return this.#deliverMessage(message, skip);
  }

  // Off the broadcast path: a lost broadcast reaches the session members only, so that the
  // per-member send of every real broadcast need not ask whether it is one.
  #deliverLost(message: LoggedMessage): number {
    this.#log.pin();
    try {
      let kept = 0;
      for (const member of this.#members) if (member.keepLost(message)) kept++;
      return kept;
    } finally {
      this.#log.unpin();
    }
  }

  #deliverMessage(message: LoggedMessage, skip: Set<ChannelCore> | undefined): number {
    const log = this.#log;
    // The log keeps the message's position for the whole loop: a member left out of it may
    // be the last reader to let go of the log before the members after it keep it.
    log.pin();
    const times = this.#observer?.fanOutTimes;
    // Two clock reads a broadcast, only with metrics on: see docs/operations.md for the cost.
    const started = times === undefined ? 0n : process.hrtime.bigint();
    try {
      return deliverToMembers(this.#members, message, skip);
    } finally {
      log.unpin();
      if (times !== undefined) times.record(process.hrtime.bigint() - started);
    }
  }
}

/** Makes `observer` hear of `group`'s occupancy and broadcasts (the registry). */
export function observe(group: ChannelGroup, observer: GroupObserver): void {
  observeGroup(group, observer);
}

/** Sends to `group`'s members on this process only (an adapter's delivery from elsewhere). */
export function deliverLocally(group: ChannelGroup, payload: Payload, options: BroadcastOptions): number {
  return deliverToGroup(group, payload, options);
}

/**
 * Tells `group`'s session members on this process of `count` broadcasts that never arrived
 * (at most 1,000 a time): each takes its number as a lost one, so its client is told of a gap.
 */
export function deliverLost(group: ChannelGroup, count: number): void {
  for (let i = 0; i < Math.min(count, maxLostAtOnce); i++) deliverLostToGroup(group);
}

const maxLostAtOnce = 1000;

function lostBroadcast(log: MessageLog): LoggedMessage {
  const message = new LoggedMessage('', {}, log);
  message.lost = true;
  return message;
}

/** Where `group` keeps its broadcasts for session members. */
export function logOf(group: ChannelGroup): MessageLog {
  return logOfGroup(group);
}

// Iterating the Set itself is safe while members leave (an http member closes as it is
// answered; a slow consumer is closed): a Set iterator skips deleted entries. Nothing in this
// loop may broadcast again or close a session: a session member that follows this group
// counts every position of its log as handed to it by the end of the loop.
function deliverToMembers(members: Set<ChannelCore>, message: LoggedMessage, skip: Set<ChannelCore> | undefined): number {
  let reached = 0;
  for (const member of members) {
    if (skip?.has(member) === true) {
      member.skipped(message);
      continue;
    }
    if (member.sendShared(message)) reached++;
  }
  return reached;
}
