import type { ServerResponse, IncomingMessage } from 'node:http';
import { debug, debugEnabled } from '../debug.js';
import type { CloseReason } from '../protocol/close-reasons.js';
import { clientAddress } from './client-address.js';

/** The limits a `live` instance puts on the channels it holds. */
export interface AdmissionLimits {
  readonly maxChannels: number;
  readonly maxChannelsPerIp: number;
  trusts(address: string, hop: number): boolean;
}

/** How many channels were refused for each limit (part of `live.stats()`). */
export interface Refusals {
  /** Refused by `maxChannels` (503). */
  maxChannels: number;
  /** Refused by `maxChannelsPerIp` (429). */
  maxChannelsPerIp: number;
}

// Clients are told when to try again: a refusal is an answer, never a hang.
const retryAfterSeconds = '5';

/**
 * Counts the open channels, in all and per client address, and refuses a new one past
 * `maxChannels` (503) or `maxChannelsPerIp` (429) before anything else is written: before
 * the 101 of a WebSocket, before SSE headers. A resume is not a new channel.
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #addressOf = new Map<object, string>();
  readonly #perAddress = new Map<string, number>();
  readonly refused: Refusals = { maxChannels: 0, maxChannelsPerIp: 0 };

  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** The address `channel` counts against, or the close reason once refused (and answered). */
  admit(channel: object, req: IncomingMessage, res: ServerResponse): string | { refused: CloseReason } {
    const limits = this.#limits;
    const address = clientAddress(req, limits.trusts);
    // A resume is already counted; a request already answered gets claim's own error.
    if (this.#addressOf.has(channel) || res.headersSent) return address;
    if (this.#addressOf.size >= limits.maxChannels) return this.#refuse(res, 'maxChannels');
    if ((this.#perAddress.get(address) ?? 0) >= limits.maxChannelsPerIp) return this.#refuse(res, 'maxChannelsPerIp');
    return address;
  }

  /** `channel` opened, counted against `address`. */
  opened(channel: object, address: string): void {
    if (this.#addressOf.has(channel)) return;
    this.#addressOf.set(channel, address);
    this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
  }

  closed(channel: object): void {
    const address = this.#addressOf.get(channel);
    if (address === undefined) return;
    this.#addressOf.delete(channel);
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left > 0) this.#perAddress.set(address, left);
    else this.#perAddress.delete(address);
  }

  #refuse(res: ServerResponse, limit: keyof Refusals): { refused: CloseReason } {
    this.refused[limit]++;
    const [status, error, message] =
      limit === 'maxChannels'
        ? [503, 'too-many-channels', 'The server holds as many channels as it may: try again later.']
        : [429, 'too-many-channels-from-address', 'Too many channels from this address: close one, or try again later.'];
    if (debugEnabled) debug('refused a channel: %d %s (%s)', status, error, limit);
    const body = JSON.stringify({ error, message, retryAfter: Number(retryAfterSeconds) });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'retry-after': retryAfterSeconds, connection: 'close', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return { refused: 'policy-violation' };
  }
}
