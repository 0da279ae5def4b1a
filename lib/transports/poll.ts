import type { ServerResponse } from 'node:http';
import type { CloseReason } from '../protocol/close-reasons.js';
import { kWire, type PollAnswer, type PollSource, type Wire, type WireSink } from './wire.js';

type TaggedResponse = ServerResponse & { [kWire]: PollWire };

/** What holding one poll takes. */
export interface PollWireOptions {
  res: ServerResponse;
  sink: WireSink;
  /** The session whose buffer the answer is read from. */
  source: PollSource;
  /** The last sequence number the poll acknowledged: the answer holds what follows it. */
  ack: number;
  /** Milliseconds the poll is held when there is nothing to answer. */
  pollTimeout: number;
  /** The hint, in ms, an answer on shutdown carries as `retry`. */
  shutdownRetry?: number;
  /**
   * The latency budget (`flushInterval`, ms): a message waits up to that long for others to
   * join it in the answer. 0 answers at the end of the tick.
   */
  flushInterval?: number;
}

/**
 * One held poll of a `'poll'` session: streaming with a budget of one response. Messages do
 * not travel through the wire; they wait in the session buffer, and the wire answers with
 * everything after the poll's acknowledgement as soon as there is something (batched over a
 * tick, or over the latency budget), when `pollTimeout` passes, or when the channel closes.
 */
export class PollWire implements Wire {
  readonly name = 'poll' as const;
  readonly #res: TaggedResponse;
  readonly #sink: WireSink;
  readonly #source: PollSource;
  readonly #ack: number;
  #timer: NodeJS.Timeout;
  readonly #shutdownRetry: number;
  readonly #flushInterval: number;
  #answerScheduled = false;
  #done = false;

  constructor({ res, sink, source, ack, pollTimeout, shutdownRetry = 0, flushInterval = 0 }: PollWireOptions) {
    this.#shutdownRetry = shutdownRetry;
    this.#flushInterval = flushInterval;
    const tagged = res as TaggedResponse;
    tagged[kWire] = this;
    tagged.on('close', pollOnClose);
    this.#res = tagged;
    this.#sink = sink;
    this.#source = source;
    this.#ack = ack;
    this.#timer = setTimeout(answerPoll, pollTimeout, this);
  }

  get bufferedBytes(): number {
    return 0; // messages wait in the session buffer, whose own bounds apply
  }

  // A poll's answer is built from the session buffer (pollAnswer): a message for it, or the
  // session telling it to answer now, only needs the answer scheduled.
  send(): void {
    this.#scheduleAnswer();
  }

  writeShared(): void {
    this.#scheduleAnswer();
  }

  answerNow(): void {
    // The session's own reasons (a hello, a replay, a gap) are not held for the budget.
    this.#scheduleAnswer(true);
  }

  heartbeat(): boolean {
    return true;
  }

  pauseReading(): void {
    // Client messages arrive by POST, one request at a time.
  }

  /** Answers now with what the session holds, and with the reason if the channel closed. */
  answer(closed?: CloseReason): void {
    if (this.#done) return;
    this.#finish();
    try {
      const body: PollAnswer = this.#source.pollAnswer(this.#ack);
      if (closed !== undefined) body.closed = closed;
      if (closed === 'shutdown' && this.#shutdownRetry > 0) body.retry = this.#shutdownRetry;
      this.#respond(200, JSON.stringify(body));
    } catch (error) {
      // Answered all the same, so the client is not left waiting; the channel then closes.
      this.#respond(500, failedPollAnswer);
      this.#sink.failed(error);
      return;
    }
    if (closed === undefined) this.#sink.released(this);
  }

  #respond(status: number, body: string): void {
    if (this.#res.headersSent) return;
    // A whole answer with its length: no proxy waits for more, or chunks it (docs/deployment.md).
    this.#res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store, no-transform', 'x-accel-buffering': 'no', 'content-length': Buffer.byteLength(body) });
    this.#res.end(body);
  }

  end(reason: CloseReason): void {
    this.answer(reason);
  }

  /** A newer poll took over: this one is answered at once with 204. */
  detach(): void {
    if (this.#done) return;
    this.#finish();
    this.#res.writeHead(204, { 'cache-control': 'no-store' }).end();
  }

  /** @internal Reports a failure of this poll's own listeners to its channel. */
  failed(error: unknown): void {
    this.#sink.failed(error);
  }

  /** @internal The client dropped the request before it was answered. */
  dropped(): void {
    if (this.#done) return;
    this.#finish();
    this.#sink.released(this);
  }

  #finish(): void {
    this.#done = true;
    clearTimeout(this.#timer);
  }

  #scheduleAnswer(now = false): void {
    if (this.#done) return;
    if (now && this.#flushInterval > 0) {
      // Not waiting for the budget: the answer that may be scheduled for it then finds
      // the poll done.
      this.#answerScheduled = true;
      process.nextTick(answerPoll, this);
      return;
    }
    if (this.#answerScheduled) return;
    this.#answerScheduled = true;
    // One answer for a burst of sends in the same tick, or for what the budget gathers: the
    // poll's timeout is replaced by the budget's, not joined by a second timer.
    if (this.#flushInterval === 0) return process.nextTick(answerPoll, this);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(answerPoll, this.#flushInterval, this);
  }
}

/** The body of a poll answer that failed to build (the session is then closed). */
export const failedPollAnswer = JSON.stringify({ error: 'internal-error', message: 'The server failed to answer this poll; the session is closed.' });

function answerPoll(wire: PollWire): void {
  wire.answer();
}

function pollOnClose(this: TaggedResponse): void {
  const wire = this[kWire];
  try {
    wire.dropped();
  } catch (error) {
    wire.failed(error);
  }
}
