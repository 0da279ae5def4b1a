import type { Writable } from 'node:stream';

// Each socket write costs a syscall; the messages written to one socket before it is next
// flushed should leave as one writev. So a socket written to is corked, and uncorked by one
// shared callback per flush (one closure and at most one timer per flush, none per socket):
// at the end of the tick by default, or once a latency budget (`flushInterval`) has passed,
// so that broadcasts made in separate ticks coalesce too.
//
// Holding is corking, so everything keeps its order: what ws writes on its own (pings, close
// frames) and what Node's http writes go into the same corked buffer behind what is held, and
// the held bytes count in the socket's `writableLength` (so in every `bufferedBytes`, so in
// the maxBufferedBytes check, which lifts the cork with `uncorkNow` before judging).
const kCorked = Symbol('express-channel.corked');
type Corkable = Writable & { [kCorked]?: boolean };

/**
 * Holds the writes to a stream until its next flush, corking it once however often it is
 * called before then.
 */
export type Hold = (stream: Writable) => void;

/** The streams corked since the last flush, and how the next flush is scheduled. */
class FlushBatch {
  #corked: Corkable[] = [];
  #scheduled = false;
  readonly #schedule: (flush: () => void) => void;
  readonly #flush = (): void => this.#uncorkAll();

  constructor(schedule: (flush: () => void) => void) {
    this.#schedule = schedule;
  }

  hold(stream: Writable): void {
    const s = stream as Corkable;
    if (s[kCorked] === true) return;
    s[kCorked] = true;
    s.cork();
    this.#corked.push(s);
    if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(this.#flush);
    }
  }

  #uncorkAll(): void {
    const batch = this.#corked;
    this.#corked = [];
    this.#scheduled = false;
    for (const s of batch) {
      // Lifted early by uncorkNow (and perhaps corked again, then listed twice): the cork it
      // holds now, if any, is someone else's or a later entry's.
      if (s[kCorked] !== true) continue;
      s[kCorked] = false;
      s.uncork();
    }
  }
}

const perTick = new FlushBatch((flush) => process.nextTick(flush));
const budgets = new Map<number, Hold>();

/** Corks `stream` until the end of the current tick, once however often it is called. */
export const corkForTick: Hold = (stream) => perTick.hold(stream);

/**
 * The hold for a latency budget of `flushInterval` ms: 0 corks for the tick; more holds a
 * stream's writes for at most that long, from the first write after its last flush. One
 * batch per budget in the process: every channel with that budget is flushed by one timer.
 */
export function holdFor(flushInterval: number): Hold {
  if (flushInterval === 0) return corkForTick;
  let hold = budgets.get(flushInterval);
  if (hold === undefined) {
    // Not unref'd: what is held is delivered, even by a process that has nothing else to do.
    const batch = new FlushBatch((flush) => setTimeout(flush, flushInterval));
    hold = (stream) => batch.hold(stream);
    budgets.set(flushInterval, hold);
  }
  return hold;
}

/**
 * Hands what `stream` holds corked to the kernel now; true if it was corked. Used before
 * judging a channel slow (bytes held back by our own cork are not the client's fault) and
 * before a close (what was sent before it must leave first, and promptly).
 */
export function uncorkNow(stream: Writable): boolean {
  const s = stream as Corkable;
  if (s[kCorked] !== true) return false;
  s[kCorked] = false;
  // It stays in its batch's list, which skips it at the flush unless it was held again.
  s.uncork();
  return true;
}
