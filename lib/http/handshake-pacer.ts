import type { Duplex } from 'node:stream';
import { debug, debugEnabled } from '../debug.js';

/** How many upgrades may start in any window, and how long one may wait for its turn. */
export interface PacerSettings {
  /** Upgrades per second; spread as `perSecond / 10` in any 100 ms. Infinity: no pacing. */
  perSecond: number;
  /** An upgrade that waited this long is answered 503 with Retry-After instead. */
  maxWait: number;
}

interface Waiting {
  socket: Duplex;
  since: number;
  start: () => void;
}

const windowMs = 100;

/**
 * Spreads WebSocket handshakes over time: at most `perSecond / 10` upgrades start in any
 * 100 ms (a sliding window), the rest wait in arrival order. A reconnect storm — every
 * client of a process cut at once, coming back within the client's first-retry window —
 * then costs the server a steady rate of handshakes instead of one burst, and no client is
 * refused unless it waited `maxWait`. The clients' own jitter spreads them too, but not when
 * a busy event loop bunches their arrivals (measured: spec/client/storm.spec.ts).
 */
export class HandshakePacer {
  readonly #perWindow: number;
  readonly #maxWait: number;
  // When each of the last `perWindow` upgrades started, as a ring: `#starts[#next]` is the
  // oldest, and a new one may start once it is a window old.
  readonly #starts: Float64Array;
  #next = 0;
  readonly #waiting: Waiting[] = [];
  #timer: NodeJS.Timeout | undefined;
  #refused = 0;

  constructor({ perSecond, maxWait }: PacerSettings) {
    this.#perWindow = Math.max(1, Math.floor(perSecond / (1000 / windowMs)));
    this.#maxWait = maxWait;
    this.#starts = new Float64Array(this.#perWindow).fill(-Infinity);
  }

  /** Upgrades waiting for their turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Upgrades answered 503 busy because they waited `maxWait`, since start (for metrics). */
  get refused(): number {
    return this.#refused;
  }

  /** Runs `start` now if the window has room, else when it has (or refuses the socket after maxWait). */
  admit(socket: Duplex, start: () => void): void {
    const now = performance.now();
    if (this.#waiting.length === 0 && this.#hasRoom(now)) return this.#start(now, start);
    this.#waiting.push({ socket, since: now, start });
    this.#schedule(now);
  }

  #hasRoom(now: number): boolean {
    return now - (this.#starts[this.#next] as number) >= windowMs;
  }

  #start(now: number, start: () => void): void {
    this.#starts[this.#next] = now;
    this.#next = (this.#next + 1) % this.#perWindow;
    start();
  }

  /** Starts what the window has room for, in order; a client that gave up is skipped. */
  drain(): void {
    this.#timer = undefined;
    // Read the clock for each start: a handshake takes time, and a window counted from a
    // stale clock would let more through than it says.
    for (let now = performance.now(); this.#waiting.length > 0 && this.#hasRoom(now); now = performance.now()) {
      const next = this.#waiting.shift() as Waiting;
      if (next.socket.destroyed) continue;
      if (now - next.since > this.#maxWait) {
        this.#refused++;
        refuseBusy(next.socket);
      } else this.#start(now, next.start);
    }
    if (this.#waiting.length > 0) this.#schedule(performance.now());
  }

  #schedule(now: number): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(1, (this.#starts[this.#next] as number) + windowMs - now);
    this.#timer = setTimeout(drainPacer, wait, this);
    this.#timer.unref();
  }
}

function drainPacer(pacer: HandshakePacer): void {
  pacer.drain();
}

// Waited too long for its turn: a clear answer the client's backoff acts on, not a hang.
function refuseBusy(socket: Duplex): void {
  if (debugEnabled) debug('refused a websocket handshake: 503 busy, it waited past its turn under handshakeRate');
  const body = '{"error":"busy","message":"Too many handshakes at once: retry later.","retryAfter":1}';
  socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}
