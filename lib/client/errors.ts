/**
 * Stable codes for everything the client reports, so callers branch on `error.code`.
 * The first six mirror the server's JSON `error` codes (docs/protocol.md).
 */
export type ClientErrorCode =
  | 'unknown-session'
  | 'resume-refused'
  | 'origin-not-allowed'
  | 'payload-too-large'
  | 'shutting-down'
  | 'bad-request'
  | 'session-closed'
  | 'queue-full'
  | 'closed'
  | 'unavailable'
  | 'open-timeout'
  | 'buffered'
  | 'refused'
  | 'network'
  | 'protocol'
  | 'lost'
  | 'invalid-data'
  | 'invalid-option'
  | 'invalid-url';

/** The one error class of the client: thrown by misuse, carried by `error` events. */
export class ClientError extends Error {
  /** A stable, documented code. */
  readonly code: ClientErrorCode;
  /** The HTTP status or WebSocket close code that caused it, if any. */
  readonly status: number | undefined;
  /**
   * The server's hint of how long to wait before trying again, in ms (an overload refusal's
   * `Retry-After`, a shutdown's `retry:`); the connection waits at least that long, jittered.
   */
  retryAfter: number | undefined;

  // eslint-disable-next-line max-params -- public constructor (exported): callers build (code, message, status?, cause?)
  constructor(code: ClientErrorCode, message: string, status?: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ClientError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Misuse by the caller (`send({ … })`, a misspelt option): a `TypeError`, as bad arguments
 * are in the browser's and Node's own APIs, carrying a stable code all the same.
 */
export function invalidArgument(code: 'invalid-data' | 'invalid-option' | 'invalid-url', message: string): TypeError & { code: ClientErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

/**
 * How the cause of a network failure reads in a message. Browsers say nothing useful (a
 * `TypeError: Failed to fetch`, a bare error event), so the browser bundle only prints it; the
 * Node entry replaces it with one that names the failure (node-errors.ts), which would cost
 * the browser bundle bytes for nothing.
 */
export let describeCause = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause));

/** Sets {@link describeCause}: called once, by the Node entry. */
export function setDescribeCause(describe: (cause: unknown) => string): void {
  describeCause = describe;
}

/** True for the answers after which the session cannot go on: the client closes for good. */
export function isFinal(error: ClientError): boolean {
  return ['unknown-session', 'resume-refused', 'session-closed'].includes(error.code);
}

/** The runtime lacks `what` (fetch, WebSocket, EventSource) and no option gave one. */
export function unavailable(what: string): ClientError {
  return new ClientError('unavailable', `${what} is not available in this runtime`);
}

/** The server closed the session (`ch.close()`); `reason` is its close reason. */
export function sessionClosed(reason: string, status?: number): ClientError {
  return new ClientError('session-closed', `the server closed the session (${reason})`, status, reason);
}
