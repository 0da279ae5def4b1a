import type { Writable } from 'node:stream';

// Each socket write costs a syscall; a burst of messages to the same socket in one tick
// should leave as one writev. So a socket written to is corked for the rest of the tick and
// uncorked by one shared nextTick callback (one closure per tick, none per socket).
const kCorked = Symbol('express-channel.corked');
type Corkable = Writable & { [kCorked]?: boolean };

let corked: Corkable[] = [];
let flushScheduled = false;

/** Corks `stream` until the end of the current tick, once however often it is called. */
export function corkForTick(stream: Writable): void {
  const s = stream as Corkable;
  if (s[kCorked] === true) return;
  s[kCorked] = true;
  s.cork();
  corked.push(s);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(uncorkAll);
  }
}

/**
 * Hands what `stream` holds corked to the kernel now; true if it was corked. Used before
 * judging a channel slow: bytes held back by our own cork are not the client's fault.
 */
export function uncorkNow(stream: Writable): boolean {
  const s = stream as Corkable;
  if (s[kCorked] !== true) return false;
  s[kCorked] = false;
  // It stays in this tick's list; the extra uncork there is a no-op on an uncorked stream.
  s.uncork();
  return true;
}

function uncorkAll(): void {
  const batch = corked;
  corked = [];
  flushScheduled = false;
  for (const s of batch) {
    s[kCorked] = false;
    s.uncork();
  }
}
