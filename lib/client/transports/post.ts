// Client → server on SSE and poll sessions (docs/protocol.md, "Sending"): one POST at a time
// carries the outbox from its first message, numbered by `ecm`; the server skips what it
// already delivered, so resending after a lost answer is harmless. POSTs also carry `eca`,
// which is how an SSE client acknowledges server messages.
import { isCount, isRecord, toWire } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, isFinal, unavailable } from '../errors.js';
import type { Outbox } from '../outbox.js';
import type { ResolvedOptions } from '../options.js';
import { backoffDelay } from '../backoff.js';
import { failure, networkError, requestInit, secretHeaders, sessionUrl, type SessionKey } from './http.js';

export interface PosterHost {
  url: URL;
  options: ResolvedOptions;
  outbox: Outbox;
  session(): SessionKey | undefined;
  lastSeq(): number;
  /** The server delivered the client's messages up to `count`. */
  received(count: number): void;
  /** A POST failed; it is retried with backoff while the connection stays open. */
  error(error: ClientError): void;
  /** The server says the session is gone. */
  gone(error: ClientError): void;
  /** No POST is in flight any more. */
  idle(): void;
}

/** Messages and bytes per POST, well under the server's default maxPayload (1 MiB). */
const maxBatch = 256;
const maxBytes = 256 * 1024;
/** A POST that takes longer than this is given up and retried. */
const postTimeout = 30_000;

export class Poster {
  /** Whether POSTs may go out: the connection is open on SSE or poll. */
  enabled = false;
  #host: PosterHost;
  #busy = false;
  #ackWanted = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;

  constructor(host: PosterHost) {
    this.#host = host;
  }

  /** A POST is in flight or waiting to be retried. */
  get busy(): boolean {
    return this.#busy || this.#retry !== undefined;
  }

  /** Sends what waits; with `ack`, POSTs even with nothing to send, to acknowledge. */
  kick(ack = false): void {
    if (ack) this.#ackWanted = true;
    if (!this.#busy && this.#retry === undefined && this.enabled) void this.#run();
  }

  stop(): void {
    this.enabled = false;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Ends the session on the server (fire and forget: the connection is closing). */
  goodbye(session: SessionKey): void {
    const { options, url } = this.#host;
    const init = requestInit(options, secretHeaders(session), AbortSignal.timeout(postTimeout));
    options.fetch?.(sessionUrl(url, { ecs: session.id }), { ...init, method: 'DELETE' }).catch(() => undefined);
  }

  async #run(): Promise<void> {
    const host = this.#host;
    this.#busy = true;
    let limit = maxBatch;
    try {
      for (;;) {
        const session = host.session();
        const first = host.outbox.first;
        const batch = host.outbox.batch(first, limit, maxBytes);
        if (!this.enabled || session === undefined || (batch.length === 0 && !this.#ackWanted)) break;
        this.#ackWanted = false;
        const outcome = await this.#post(session, first, batch.map(toWire));
        if (outcome === 'too-large' && batch.length > 1) limit = 1;
        else if (outcome === 'too-large') host.outbox.drop(first);
        else if (outcome !== 'ok') return; // gone, or refused for good
        this.#failures = 0;
      }
    } catch (error) {
      this.#failed(error);
    } finally {
      this.#busy = false;
    }
    if (this.#retry === undefined) host.idle();
  }

  /** A POST failed: reported, and retried with backoff (acknowledging too) while enabled. */
  #failed(error: unknown): void {
    const host = this.#host;
    host.error(error instanceof ClientError ? error : networkError('POST', error));
    this.#ackWanted = true;
    if (!this.enabled) return;
    const delay = backoffDelay(this.#failures++, host.options.reconnect, host.options.random);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.kick();
    }, delay);
  }

  /** One POST; throws on failures worth retrying. */
  async #post(session: SessionKey, first: number, body: unknown[]): Promise<'ok' | 'too-large' | 'gone' | 'refused'> {
    const host = this.#host;
    const fetch = host.options.fetch;
    if (fetch === undefined) throw unavailable('fetch');
    const url = sessionUrl(host.url, { ecs: session.id, ecm: first, eca: host.lastSeq() });
    const init = requestInit(host.options, { 'Content-Type': 'application/json', ...secretHeaders(session) }, AbortSignal.timeout(postTimeout));
    const response = await fetch(url, { ...init, method: 'POST', body: JSON.stringify(body) });
    if (response.ok || response.status === 409) {
      const answer = parseJson(await response.text());
      const received = isRecord(answer) ? answer['received'] : undefined;
      // A 409 behind what this client still holds would repeat forever: it is a server fault.
      if (!isCount(received) || received < first - 1) throw new ClientError('protocol', `POST answered ${response.status} with received ${String(received)}`, response.status);
      host.received(received);
      return 'ok';
    }
    const error = await failure(response, 'POST');
    if (isFinal(error)) {
      host.gone(error);
      return 'gone';
    }
    // 400 and 403 (a body parser before live, a proxy rewriting the request) would be the same
    // answer every time: say so once and send no more POSTs on this connection.
    if (error.status === 400 || error.status === 403) {
      this.enabled = false;
      host.error(error);
      return 'refused';
    }
    if (error.code !== 'payload-too-large') throw error;
    if (body.length === 1) host.error(new ClientError('payload-too-large', `message ${first} is larger than the server's maxPayload: dropped`, 413));
    return 'too-large';
  }
}
