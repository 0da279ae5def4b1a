import type { CloseReason } from '../protocol/close-reasons.js';

/** A client message: a string for text, a Buffer for binary. */
export type Message = string | Buffer;
/** Called with each client message, in the order the client sent them. */
export type MessageHandler = (message: Message) => void;
/** Called once with the reason the channel closed. */
export type CloseHandler = (reason: CloseReason) => void;

/** What the handlers report back to their channel. */
export interface HandlerOwner {
  reportError(error: unknown): void;
  /** Messages held for a missing handler were delivered: reading may resume. */
  heldDrained(): void;
}

// How long close handlers wait for a handler that has not registered onReceive yet while
// client messages are held for it: they must run after the last message is delivered, but
// a handler that never listens must not keep them waiting forever.
const heldMessagesGrace = 2000;

/**
 * The user's callbacks of one channel and the order they run in: every client message to
 * every message handler, in the order received, never synchronously inside a registration;
 * messages that arrive before any handler are held (http-kit #318); close handlers last, each
 * at most once, also when registered after the close.
 */
export class ChannelHandlers {
  readonly #owner: HandlerOwner;
  #receivers: MessageHandler[] = [];
  #closers: CloseHandler[] = [];
  #held: Message[] = [];
  #closeReason: CloseReason | undefined;
  #closeDeferred: NodeJS.Timeout | undefined;

  constructor(owner: HandlerOwner) {
    this.#owner = owner;
  }

  /** Why the channel closed, once it did: the one record of it. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  /** Messages waiting for a handler (or for the scheduled delivery). */
  get heldCount(): number {
    return this.#held.length;
  }

  addReceiver(handler: MessageHandler): void {
    this.#receivers.push(handler);
    if (this.#held.length > 0) process.nextTick(deliverHeld, this);
    if (this.#closeDeferred !== undefined) {
      // The close was waiting for this handler: deliver, then close (nextTick is FIFO).
      clearTimeout(this.#closeDeferred);
      this.#closeDeferred = undefined;
      process.nextTick(runCloseHandlers, this);
    }
  }

  addCloser(handler: CloseHandler): void {
    if (this.#closeReason !== undefined && this.#closeDeferred === undefined) process.nextTick(runCloseHandler, this, handler);
    else this.#closers.push(handler);
  }

  /**
   * Takes the messages held for a handler, undelivered, out of here: a session handed to
   * another process (a takeover) delivers them there.
   */
  takeHeld(): Message[] {
    const held = this.#held;
    this.#held = [];
    return held;
  }

  /** Delivers `message` now, or holds it while no handler listens (or earlier ones wait). */
  receive(message: Message): void {
    if (this.#receivers.length === 0 || this.#held.length > 0) this.#held.push(message);
    else this.#deliver(message);
  }

  /** The channel closed: close handlers run after the messages already on their way. */
  closed(reason: CloseReason): void {
    this.#closeReason = reason;
    // On shutdown nobody waits: `await live.close()` must find every close handler run.
    if (this.#held.length > 0 && this.#receivers.length === 0 && reason !== 'shutdown') {
      this.#closeDeferred = setTimeout(runCloseHandlers, heldMessagesGrace, this);
      this.#closeDeferred.unref();
      return;
    }
    // process.nextTick is FIFO, so held messages already scheduled are delivered first.
    process.nextTick(runCloseHandlers, this);
  }

  /** @internal */
  flushHeld(): void {
    if (this.#receivers.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const message of held) this.#deliver(message);
    this.#owner.heldDrained();
  }

  /** @internal */
  runClosers(): void {
    this.#closeDeferred = undefined;
    this.#held = []; // nobody listened in time: they go with the channel
    const closers = this.#closers;
    this.#closers = [];
    for (const handler of closers) this.callCloser(handler);
  }

  /** @internal */
  callCloser(handler: CloseHandler): void {
    try {
      handler(this.#closeReason ?? 'unknown');
    } catch (error) {
      this.#owner.reportError(error);
    }
  }

  #deliver(message: Message): void {
    for (const receive of this.#receivers) {
      try {
        receive(message);
      } catch (error) {
        this.#owner.reportError(error);
      }
    }
  }
}

function deliverHeld(handlers: ChannelHandlers): void {
  handlers.flushHeld();
}

function runCloseHandlers(handlers: ChannelHandlers): void {
  handlers.runClosers();
}

function runCloseHandler(handlers: ChannelHandlers, handler: CloseHandler): void {
  handlers.callCloser(handler);
}
