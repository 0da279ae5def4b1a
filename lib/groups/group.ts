import { Channel, type Membership } from '../channel/channel.js';
import { assertNotReserved, assertSseFields } from '../transports/sse-format.js';
import { LoggedMessage, MessageLog } from '../sessions/message-log.js';
import { toPayload } from '../transports/payload.js';
import { invalidArgument } from '../errors.js';
import type { Payload } from '../transports/wire.js';

/** Options of {@link ChannelGroup.broadcast}. */
export interface BroadcastOptions {
  /** A member (or several) not to send to: typically the sender of a chat message. */
  except?: Channel | Iterable<Channel>;
  /** SSE `event:` field. */
  event?: string | undefined;
  /** SSE `id:` field. */
  id?: string | number | undefined;
}

/** @internal Told when a group gains its first member or loses its last. */
export interface GroupObserver {
  occupied(group: ChannelGroup): void;
  emptied(group: ChannelGroup): void;
  published(group: ChannelGroup, payload: Payload, options: BroadcastOptions): void;
}

/**
 * http-kit's `ChannelGroup`: a set of channels that receive broadcasts together. Channels of
 * every transport may be members; a channel that closes leaves by itself.
 */
export class ChannelGroup implements Membership, Iterable<Channel> {
  /** The group's name in its registry, or undefined for a standalone group. */
  readonly name: string | undefined;
  readonly #members = new Set<Channel>();
  readonly #observer: GroupObserver | undefined;
  // Broadcasts to session members, kept once for all of them until acknowledged.
  readonly #log = new MessageLog();

  /** @internal Where broadcasts are kept for session members. */
  get log(): MessageLog {
    return this.#log;
  }

  constructor(name?: string, observer?: GroupObserver) {
    this.name = name;
    this.#observer = observer;
  }

  /** How many channels are members. */
  get size(): number {
    return this.#members.size;
  }

  /** Adds (and claims) `channel`. A closed channel is not added. Returns the group. */
  add(channel: Channel): this {
    if (this.#members.has(channel) || !channel.joined(this)) return this;
    this.#members.add(channel);
    if (this.#members.size === 1) this.#observer?.occupied(this);
    return this;
  }

  /** Removes `channel`; true if it was a member. */
  delete(channel: Channel): boolean {
    if (!this.#members.delete(channel)) return false;
    channel.left(this);
    if (this.#members.size === 0) this.#observer?.emptied(this);
    return true;
  }

  has(channel: Channel): boolean {
    return this.#members.has(channel);
  }

  [Symbol.iterator](): IterableIterator<Channel> {
    return this.#members.values();
  }

  /**
   * Sends `data` to every member, encoding it once per transport. With an adapter, the
   * group's members on other processes receive it too. Returns the local members reached.
   */
  broadcast(data: string | Buffer | Uint8Array, options: BroadcastOptions = {}): number {
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `broadcast() takes a string or bytes, got ${data === null ? 'null' : typeof data}`);
    }
    assertSseFields(options);
    assertNotReserved(options.event); // members may be sessions
    const payload = toPayload(data);
    this.#observer?.published(this, payload, options);
    return this.deliver(payload, options);
  }

  /** @internal Sends to this process's members only (used for adapter deliveries too). */
  deliver(payload: Payload, options: BroadcastOptions): number {
    const message = new LoggedMessage(payload, { event: options.event, id: options.id }, this.#log);
    const except = options.except;
    const skip = except === undefined ? undefined : except instanceof Channel ? new Set([except]) : new Set(except);
    // The log keeps the message's position for the whole loop: a member left out of it may
    // be the last reader to let go of the log before the members after it keep it.
    const log = this.#log;
    log.pin();
    try {
      return deliverToMembers(this.#members, message, skip);
    } finally {
      log.unpin();
    }
  }
}

// Iterating the Set itself is safe while members leave (an http member closes as it is
// answered; a slow consumer is closed): a Set iterator skips deleted entries. Nothing in this
// loop may broadcast again or close a session: a session member that follows this group
// counts every position of its log as handed to it by the end of the loop.
function deliverToMembers(members: Set<Channel>, message: LoggedMessage, skip: Set<Channel> | undefined): number {
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
