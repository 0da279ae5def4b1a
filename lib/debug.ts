// Debug logging the Node way: `NODE_DEBUG=express-channel node app.js` writes one line per
// event to stderr (`EXPRESS-CHANNEL 1234: closed websocket channel #3: slow-consumer`).
// Node's own util.debuglog rather than the `debug` package: no dependency, the switch every
// Node user already knows (NODE_DEBUG=http,express-channel), and a `enabled` flag to read
// once. Lines name channels by a per-process number (#3), never by their id or session id,
// which are bearer secrets, and never carry a message's payload.
import { debuglog } from 'node:util';

const log = debuglog('express-channel');

/**
 * Whether NODE_DEBUG names express-channel, read once at load (Node reads NODE_DEBUG at
 * startup, so it cannot change later). Every call site tests it first, so a disabled log
 * costs one branch and builds no string.
 */
export const debugEnabled: boolean = log.enabled;

/** Writes one line; `format` as util.format's. Call only when {@link debugEnabled}. */
export function debug(format: string, ...args: unknown[]): void {
  log(format, ...args);
}

const numbers = new WeakMap<object, number>();
let last = 0;

/** `#n`: the number that names `channel` in debug lines, given when first logged. */
export function tag(channel: object): string {
  let n = numbers.get(channel);
  if (n === undefined) numbers.set(channel, (n = ++last));
  return `#${n}`;
}
