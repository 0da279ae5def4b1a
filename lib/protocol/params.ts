/** Request headers as Node gives them (lower-case names). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What a resume presents to prove it is the session's client: its secret or a resume ticket. */
export interface Credentials {
  secret: string | undefined;
  ticket: string | undefined;
}

/** A request's session parameters (docs/protocol.md, "Query parameters"). */
export type SessionRequest =
  | { kind: 'open'; poll: boolean }
  | ResumeRequest
  | { kind: 'invalid'; message: string };

export interface ResumeRequest {
  kind: 'resume';
  id: string;
  ack: number;
  poll: boolean;
  firstMessage: number | undefined;
  credentials: Credentials;
  /** A POST with `ecr=new`: the client asks for a resume ticket. */
  wantsTicket: boolean;
  fromLastEventId?: true;
}

/**
 * The `ect` value the client library puts on its WebSocket URL. A proxy that drops the upgrade
 * headers turns that request into a plain GET; this marker lets the server refuse it at once
 * instead of serving it as a plain HTTP channel nobody reads (docs/deployment.md).
 */
export const webSocketMarker = 'ws';

/** The header that carries the session secret on fetch requests. */
export const secretHeader = 'ec-secret';
/** The WebSocket subprotocol the client library offers, and the prefix of the one carrying the secret. */
export const webSocketProtocol = 'express-channel';
export const secretProtocolPrefix = 'ec-secret.';

const sessionIdPattern = /^[A-Za-z0-9_-]{22}$/;
// Last-Event-ID as we write it: `SESSION.SECRET.SEQ`; `SESSION.SEQ` was the form before secrets
// and is read so that it can be refused with a clear answer.
const lastEventIdPattern = /^([A-Za-z0-9_-]{22})(?:\.([A-Za-z0-9_-]{22}))?\.(\d{1,15})$/;

/**
 * Reads the session parameters from a request's URL and headers. Pure: no lookups. Returns
 * undefined for a request that did not ask for a session.
 */
export function sessionRequestOf(url: string | undefined, headers: RequestHeaders): SessionRequest | undefined {
  const query = queryOf(url);
  if (query === undefined) return undefined;
  const ecs = query.get('ecs');
  if (ecs === null) return undefined;
  const poll = query.get('ect') === 'poll';
  if (ecs === 'new') return resumeFromLastEventId(headers['last-event-id'], poll) ?? { kind: 'open', poll };
  if (!sessionIdPattern.test(ecs)) return { kind: 'invalid', message: 'ecs must be "new" or a session id' };
  const ack = integerParam(query.get('eca'), 0);
  const firstMessage = integerParam(query.get('ecm'), undefined);
  if (ack === null) return { kind: 'invalid', message: 'eca must be an integer >= 0' };
  if (firstMessage === null || firstMessage === 0) return { kind: 'invalid', message: 'ecm must be an integer >= 1' };
  const ecr = query.get('ecr') ?? undefined;
  const credentials = { secret: secretFromHeaders(headers), ticket: ecr === 'new' ? undefined : ecr };
  return { kind: 'resume', id: ecs, ack, poll, firstMessage, credentials, wantsTicket: ecr === 'new' };
}

// A plain EventSource reconnects to the same `?ecs=new` URL and says where it was in
// Last-Event-ID: that is a resume, and the id carries the secret.
function resumeFromLastEventId(lastEventId: string | string[] | undefined, poll: boolean): SessionRequest | undefined {
  if (typeof lastEventId !== 'string') return undefined;
  const match = lastEventIdPattern.exec(lastEventId.trim());
  if (match === null) return undefined;
  const credentials = { secret: match[2], ticket: undefined };
  return { kind: 'resume', id: match[1] as string, ack: Number(match[3]), poll, firstMessage: undefined, credentials, wantsTicket: false, fromLastEventId: true };
}

/** The secret from the `EC-Secret` header, or on a WebSocket from its `ec-secret.…` subprotocol. */
function secretFromHeaders(headers: RequestHeaders): string | undefined {
  const header = headers[secretHeader];
  if (typeof header === 'string') return header;
  const protocols = headers['sec-websocket-protocol'];
  if (typeof protocols !== 'string') return undefined;
  for (const protocol of protocols.split(',')) {
    const token = protocol.trim();
    if (token.startsWith(secretProtocolPrefix)) return token.slice(secretProtocolPrefix.length);
  }
  return undefined;
}

function queryOf(url: string | undefined): URLSearchParams | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  // Most requests carry no query: skip the parse entirely.
  if (q === -1 || !url.includes('ecs=', q)) return undefined;
  return new URLSearchParams(url.slice(q + 1));
}

/** The integer value, `fallback` when absent, or null when malformed. */
function integerParam<T extends number | undefined>(value: string | null, fallback: T): number | T | null {
  if (value === null) return fallback;
  if (!/^\d{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * The transport the client library meant a request for, from its URL alone: `'websocket'`
 * (`ect=ws`), `'sse'` (`eco=1`, which only its event streams carry), or undefined.
 */
export function intendedTransport(url: string | undefined): 'websocket' | 'sse' | undefined {
  const query = queryOf(url);
  if (query === undefined) return undefined;
  if (query.get('ect') === webSocketMarker) return 'websocket';
  return query.get('eco') === '1' ? 'sse' : undefined;
}

/**
 * True when a session client asked (`eco=1`) to number SSE events by their order, as it does
 * on WebSocket, instead of reading `id:` lines: every member then gets the same bytes.
 */
export function countsEvents(url: string | undefined): boolean {
  return queryOf(url)?.get('eco') === '1';
}
