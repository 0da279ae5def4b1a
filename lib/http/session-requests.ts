import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { IncomingMessage as Request } from 'node:http';
import type { WebSocketServer } from 'ws';
import { channelOf, type Channel } from '../channel/channel.js';
import type { ChannelCore } from '../channel/core.js';
import type { RefusalCause } from '../channel/counters.js';
import { receivePosted } from '../channel/posted.js';
import type { RequestContext, UpgradeContext } from '../channel/host.js';
import { debug, debugEnabled } from '../debug.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { HandedSession } from '../sessions/session.js';
import type { TransportName } from '../transports/wire.js';
import { transportFromHeaders } from './negotiate.js';
import { parseMessageList } from '../transports/json-messages.js';
import { failedPollAnswer } from '../transports/poll.js';
import { refusedVersion } from '../transports/websocket.js';
import type { ResumeRequest, SessionRequest } from '../protocol/params.js';
import { kForwardedBody } from './forwarded-exchange.js';
import { retryAfterSeconds } from './retry-after.js';

/** Stable error codes of session requests (docs/protocol.md, "Errors"); each counts as a refusal. */
export type SessionErrorCode = Exclude<RefusalCause, 'bad-handshake'>;

const messages: Record<SessionErrorCode, string> = {
  'bad-request': 'Malformed session request.',
  'origin-not-allowed': 'This Origin may not use this endpoint.',
  'json-required': 'A session POST must carry Content-Type: application/json.',
  'secret-required': 'A session request must prove it is the session\'s client: send the secret from the first hello in the EC-Secret header (docs/protocol.md, "The session secret"). Clients older than express-channel 0.2 cannot resume.',
  'secret-mismatch': 'The session secret (or resume ticket) does not match this session.',
  'internal-error': 'The server failed to take these messages; the session is closed.',
  'resume-refused': 'The server refused to resume this session.',
  'unknown-session': 'No session with this id: it expired or never existed. Open a new one with ecs=new.',
  'session-elsewhere': 'This session lives on another process, which cannot hand it over yet: resume it by polling (ect=poll), which is forwarded there.',
  'owner-unreachable': 'The process that holds this session did not answer in time: try again.',
  'out-of-order': 'A message is missing before this batch: resend from received + 1.',
  'payload-too-large': 'The body is larger than maxPayload.',
  busy: 'The application is not reading messages yet: send them again later.',
  'shutting-down': 'The server is shutting down.',
};

/** True for one of the stable error codes (an answer from another process is checked with it). */
export function isSessionErrorCode(value: unknown): value is SessionErrorCode {
  return typeof value === 'string' && Object.hasOwn(messages, value);
}

const statuses: Record<SessionErrorCode, number> = {
  'bad-request': 400,
  'origin-not-allowed': 403,
  'json-required': 403,
  'secret-required': 403,
  'secret-mismatch': 403,
  'internal-error': 500,
  'resume-refused': 403,
  'unknown-session': 404,
  'session-elsewhere': 421,
  'owner-unreachable': 503,
  'out-of-order': 409,
  'payload-too-large': 413,
  busy: 503,
  'shutting-down': 503,
};

// Close codes a browser can read on a WebSocket whose resume failed (4000-4999 are ours).
const webSocketCloseCodes: Partial<Record<SessionErrorCode, number>> = {
  'unknown-session': 4404,
  'session-elsewhere': 4421,
  'resume-refused': 4403,
  'secret-required': 4401,
  'secret-mismatch': 4401,
  'bad-request': 4400,
};

/** A session taken over from another process, to open on this request at `ack`, in `groups`. */
export interface Adoption {
  transport: TransportName;
  handed: HandedSession;
  groups: readonly string[];
  ack: number;
}

/** What adopting a session taken over from another process needs of the `live` instance (takeover.ts). */
export interface AdoptingHost {
  /** Makes the channel of a session taken over, opens it on `context` and joins its groups. */
  adopt?(context: RequestContext, adoption: Adoption): ChannelCore;
}

/** What answering session requests needs of the `live` instance (the hub). */
export interface SessionRequestHost extends AdoptingHost {
  readonly closing: boolean;
  readonly sessions: SessionStore<ChannelCore>;
  readonly options: {
    readonly maxPayload: number;
    readonly maxHeldMessages: number;
    readonly shutdownRetry: number;
    readonly authorizeResume: ((req: Request, channel: Channel) => boolean) | undefined;
    isOriginAllowed(origin: string | undefined, req: Request): boolean;
  };
  webSocketServer(): WebSocketServer;
  reportError(error: unknown): void;
  refused(cause: RefusalCause): void;
  /** With a session directory: a session not held here may live on another process (forwarding.ts). */
  readonly elsewhere?: ((x: Exchange, request: ResumeRequest) => void) | undefined;
  /** Sessions this process is taking over from another, by id: settled once each is here (or not). */
  readonly takeovers?: Map<string, Promise<void>> | undefined;
}

/** One session request being answered: the hub, and the request with its raw upgrade. */
export interface Exchange {
  readonly hub: SessionRequestHost;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly upgrade: UpgradeContext | undefined;
  /** Carried here from another process: its owner is here or nowhere, never forwarded on. */
  readonly forwarded: boolean;
  /**
   * Lets the request go on to the route: with the channel of a session taken over from
   * another process, or `'new'` to open a new session (a plain EventSource whose session is gone).
   */
  readonly continueAs?: ((channel: Channel | 'new') => void) | undefined;
}

/**
 * Answers a request that continues a session: a resume on WebSocket, SSE or poll, a POST of
 * client messages, or a DELETE that ends the session. These requests went through every
 * middleware mounted before `live` (so auth applies) but not through the route: the channel
 * and its handlers already exist.
 */
export function handleSessionRequest(hub: SessionRequestHost, context: RequestContext & Partial<Pick<Exchange, 'forwarded' | 'continueAs'>>, request: SessionRequest): void {
  const x: Exchange = { hub, req: context.req, res: context.res, upgrade: context.upgrade, forwarded: context.forwarded === true, continueAs: context.continueAs };
  if (request.kind === 'invalid') return refuse(x, 'bad-request', request.message);
  if (request.kind === 'open') return;
  const early = refusalBeforeLookup(x);
  if (early === 'shutting-down') return refuse(x, early, { retryAfter: Number(retryAfterSeconds(hub.options.shutdownRetry)) });
  if (early !== undefined) return refuse(x, early);
  const channel = hub.sessions.find(request.id);
  if (channel === undefined) return answerUnknown(x, request);
  const unproven = unprovenBy(channel, request);
  if (unproven !== undefined) return refuse(x, unproven);
  const authorize = hub.options.authorizeResume;
  if (authorize !== undefined && !authorize(x.req, channelOf(channel))) return refuse(x, 'resume-refused');
  if (x.req.method === 'POST') return receivePost(x, channel, request);
  if (x.req.method === 'DELETE') {
    channel.close('client-close');
    x.res.writeHead(204, { 'cache-control': 'no-store' }).end();
    return;
  }
  resumeConnection(x, channel, request);
}

// A cross-site resume is refused before any 101, and a forged POST before its body is read,
// whether or not the session exists.
function refusalBeforeLookup(x: Exchange): SessionErrorCode | undefined {
  const post = x.req.method === 'POST';
  if ((post || x.upgrade !== undefined) && !x.hub.options.isOriginAllowed(x.req.headers.origin, x.req)) return 'origin-not-allowed';
  if (post && !isJson(x.req.headers['content-type'])) return 'json-required';
  return x.hub.closing ? 'shutting-down' : undefined;
}

// No open session by that id: a closed polling one still answers its last poll, to its own
// client only.
function answerUnknown(x: Exchange, request: ResumeRequest): void {
  const proven = (channel: ChannelCore): boolean => unprovenBy(channel, request) === undefined;
  const closed = request.poll && x.req.method === 'GET' ? x.hub.sessions.takeClosed(request.id, proven) : undefined;
  if (closed !== undefined) return answerClosedPoll(x, closed, request.ack);
  if (answeredHere(x, request)) return;
  if (x.hub.elsewhere !== undefined && !x.forwarded) return x.hub.elsewhere(x, request);
  refuseUnknown(x, request);
}

/**
 * Answers `request` here if its session is here after all, or on its way here (a takeover
 * under way, once it settled): a request that waited on another process may find it arrived
 * meanwhile. False when it is neither.
 */
export function answeredHere(x: Exchange, request: ResumeRequest): boolean {
  const arriving = x.hub.takeovers?.get(request.id);
  if (arriving !== undefined) void arriving.then(() => handleSessionRequest(x.hub, x, request));
  else if (x.hub.sessions.find(request.id) !== undefined) handleSessionRequest(x.hub, x, request);
  else return false;
  return true;
}

/**
 * No process holds the session. A plain EventSource would give up on a 404 for good, and it
 * comes back with Last-Event-ID by itself, also after its session expired: it gets a new one.
 */
export function refuseUnknown(x: Exchange, request: ResumeRequest): void {
  if (request.fromLastEventId === true && x.continueAs !== undefined) return x.continueAs('new');
  refuse(x, 'unknown-session');
}

/** Why a request has not proven it comes from the session's client, or undefined if it has. */
export function unprovenBy(channel: ChannelCore, request: Pick<ResumeRequest, 'credentials'>): 'secret-required' | 'secret-mismatch' | undefined {
  const { secret, ticket } = request.credentials;
  if (secret === undefined && ticket === undefined) return 'secret-required';
  return channel.session?.proves(request.credentials) === true ? undefined : 'secret-mismatch';
}

function resumeConnection(x: Exchange, channel: ChannelCore, request: ResumeRequest): void {
  const transport = request.poll ? 'poll' : transportFromHeaders(x.req.headers);
  if (transport === 'http') return refuse(x, 'bad-request', 'a resume is a WebSocket upgrade, an event stream (Accept: text/event-stream) or a poll (ect=poll)');
  if (channel.session?.isValidAck(request.ack) !== true) return refuse(x, 'bad-request', 'eca is past the last message sent');
  channel.resume({ req: x.req, res: x.res, upgrade: x.upgrade }, transport, request.ack);
}

function receivePost(x: Exchange, channel: ChannelCore, request: ResumeRequest): void {
  if (consumedWithNothingLeft(x.req)) return refuse(x, 'bad-request', bodyConsumed);
  readBody(x.req, x.hub.options.maxPayload, (body) => {
    // Runs in the request's 'end' listener: a throw there would reach the process.
    try {
      answerPost(x, channel, { request, body });
    } catch (error) {
      channel.failed(error);
      refuse(x, 'internal-error');
    }
  });
}

function answerPost(x: Exchange, channel: ChannelCore, { request, body }: { request: ResumeRequest; body: string | undefined }): void {
  const first = request.firstMessage;
  if (body === undefined) return refuse(x, 'payload-too-large');
  const parsed = parseMessageList(body);
  if (!Array.isArray(parsed)) return refuse(x, 'bad-request', parsed.error);
  if (parsed.length > 0 && first === undefined) return refuse(x, 'bad-request', 'a POST with messages needs ecm');
  channel.session?.acknowledge(request.ack);
  const result = parsed.length > 0 ? receivePosted(channel, { first: first as number, messages: parsed, maxHeld: x.hub.options.maxHeldMessages }) : { received: channel.session?.received ?? 0, outcome: 'ok' };
  if (result.outcome === 'closed') return refuse(x, 'unknown-session');
  if (result.outcome === 'busy' || result.outcome === 'out-of-order') return refuse(x, result.outcome, { received: result.received });
  sendJson(x.res, 200, postAnswer(channel, request, result.received));
}

/** A POST's answer: the count received, and a resume ticket when asked for (`ecr=new`). */
function postAnswer(channel: ChannelCore, request: ResumeRequest, received: number): object {
  const ticket = request.wantsTicket ? channel.session?.issueTicket() : undefined;
  return ticket === undefined ? { received } : { received, ticket };
}

/** The last poll of a session the application closed: what the client missed, and why. */
function answerClosedPoll(x: Exchange, channel: ChannelCore, ack: number): void {
  let answer;
  try {
    answer = channel.session?.pollAnswer(ack);
  } catch (error) {
    x.hub.reportError(error);
    return sendBody(x.res, 500, failedPollAnswer);
  }
  if (answer === undefined) return;
  sendJson(x.res, 200, { ...answer, closed: channel.closeReason ?? 'server-close' });
}

/**
 * Whether a POST says its body is JSON. A cross-site page can send a "simple" request
 * (`text/plain`, a form's types) with the user's cookies and no CORS preflight, but not
 * `application/json`: requiring it is what keeps session POSTs from being forged (CSRF).
 */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/json';
}

const bodyConsumed =
  'The request body was read by a middleware mounted before live (a body parser) that left nothing usable in req.body: ' +
  'mount live before your body parsers, or keep them off session POSTs (docs/deployment.md, "Body parsers").';

/** True when a middleware before us consumed the body and left nothing we can read in its place. */
function consumedWithNothingLeft(req: IncomingMessage): boolean {
  return req.readableEnded && (req as { [kForwardedBody]?: string })[kForwardedBody] === undefined && bodyLeftBy((req as { body?: unknown }).body) === null;
}

/** Reads a body up to `limit` bytes; calls back with undefined past it. */
export function readBody(req: IncomingMessage, limit: number, done: (body: string | undefined) => void): void {
  // Forwarded from another process, which read it already.
  const forwardedBody = (req as { [kForwardedBody]?: string })[kForwardedBody];
  if (forwardedBody !== undefined) return done(forwardedBody);
  // A body parser that ran before us consumed the stream: take what it left in req.body.
  if (req.readableEnded) {
    const text = bodyLeftBy((req as { body?: unknown }).body) ?? '';
    return done(Buffer.byteLength(text) > limit ? undefined : text);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      req.removeAllListeners('data');
      req.resume();
      return done(undefined);
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (size <= limit) done(Buffer.concat(chunks).toString('utf8'));
  });
}

/**
 * The body as text from what a body parser left: a string (`express.text()`), bytes
 * (`express.raw()`), parsed JSON (`express.json()`); null for nothing (a parser that only
 * drained the stream), or a non-JSON parse such as `express.urlencoded()`'s empty object.
 */
function bodyLeftBy(body: unknown): string | null {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) return null;
  return JSON.stringify(body);
}

// A refusal: JSON with its stable code, or on a WebSocket a close code a browser can read
// (it cannot read the status of a refused upgrade). `detail` replaces the stock message or
// adds fields (the count of messages received).
export function refuse(x: Exchange, code: SessionErrorCode, detail?: string | { received: number } | { retryAfter: number }): void {
  x.hub.refused(code);
  if (debugEnabled) debug('refused a session %s: %s', x.upgrade === undefined ? x.req.method : 'WebSocket resume', code); // no id, no detail: both may carry what the client sent
  const closeCode = webSocketCloseCodes[code];
  const upgrade = x.upgrade;
  if (upgrade !== undefined && closeCode !== undefined) {
    upgrade.release();
    if (refusedVersion(x.req, upgrade.socket)) return; // no 101 for a version we do not speak
    x.hub.webSocketServer().handleUpgrade(x.req, upgrade.socket, upgrade.head, (ws) => {
      ws.on('error', terminateOnError); // a bad frame before the close completes must not crash
      ws.close(closeCode, code);
    });
    return;
  }
  const message = typeof detail === 'string' ? detail : messages[code];
  sendJson(x.res, statuses[code], { error: code, message, ...(typeof detail === 'object' ? detail : {}) });
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  sendBody(res, status, JSON.stringify(body));
}

function sendBody(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function terminateOnError(this: WebSocket): void {
  this.terminate();
}
