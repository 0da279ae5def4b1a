import type { Wire } from '../transports/wire.js';

/** What happens to a message for a channel whose buffer is full: close it, or drop the message. */
export type BufferPolicy = 'close' | 'drop';

/**
 * True if `bytes` more may go to `wire` without passing `maxBufferedBytes` — the socket's own
 * buffer, read on every write. A message larger than the limit still goes to an idle
 * channel. What happens to a channel that is full is the caller's policy.
 */
export function hasRoom(wire: Wire, bytes: number, maxBufferedBytes: number): boolean {
  const buffered = wire.bufferedBytes;
  // The common case, first and cheap.
  if (buffered === 0 || buffered + bytes <= maxBufferedBytes) return true;
  // Part of it may be our own cork for this tick, not the client's slowness: write it out
  // and look again before judging.
  return wire.flush?.() === true && wire.bufferedBytes + bytes <= maxBufferedBytes;
}
