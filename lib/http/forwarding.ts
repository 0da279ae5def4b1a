// Sessions with no sticky routing (docs/scaling.md): a session request that reaches a
// process which does not hold the session is carried to the process that does (its owner),
// answered there by the same code that answers its own requests, and the answer is written
// back here. Polls, POSTs and DELETEs are forwarded; a WebSocket or SSE resume cannot be
// (its connection is here): the session is taken over instead (takeover.ts), or, with a
// directory that cannot move sessions, refused with 421 `session-elsewhere`, so that the
// client goes on to polling, which is forwarded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sessionRequestOf, type ResumeRequest } from '../protocol/params.js';
import { canTakeOver, type ForwardedAnswer, type ForwardedExchange, type ForwardedRequest, type SessionDirectory } from '../sessions/directory.js';
import { ForwardedResponse, forwardedRequest } from './forwarded-exchange.js';
import { answeredHere, handleSessionRequest, readBody, refuse, refuseUnknown, type Exchange, type SessionRequestHost } from './session-requests.js';
import { takeOverFrom } from './takeover.js';

// Only what answering a session request reads travels through Redis: never the user's
// cookies or credentials (the owner sees none of the middleware's state either: see
// docs/scaling.md, "What the owner sees of a forwarded request").
const forwardedHeaders = ['host', 'origin', 'content-type', 'accept', 'ec-secret', 'last-event-id'];

/** The directory that knows the owners, and how long the owner may hold a poll. */
export interface Cluster {
  directory: SessionDirectory;
  pollTimeout: number;
}

// An owner that takes longer than a held poll plus this is taken for gone.
const answerMargin = 10_000;

/** On the process that received the request: find the session's owner and carry the request there. */
export function answerElsewhere(cluster: Cluster, x: Exchange, request: ResumeRequest): void {
  locateAndForward(cluster, x, request).catch((error: unknown) => {
    // Answered, or the client went away while the owner held its poll: nothing to tell.
    if (x.res.headersSent || x.res.destroyed) return;
    // An owner that died while we waited: its session died with it.
    if ((error as { code?: unknown }).code === 'ERR_CHANNEL_OWNER_GONE') return refuseUnknown(x, request);
    x.hub.reportError(error);
    // A plain EventSource ends for good on any refusal: it gets a new session instead.
    if (request.fromLastEventId === true) return refuseUnknown(x, request);
    refuse(x, 'owner-unreachable');
  });
}

async function locateAndForward({ directory, pollTimeout }: Cluster, x: Exchange, request: ResumeRequest): Promise<void> {
  // Proof is checked by the owner, but a request with none is refused here, before its body
  // is read and sent through Redis.
  if (request.credentials.secret === undefined && request.credentials.ticket === undefined) return refuse(x, 'secret-required');
  const owner = await locateSoon(directory, request.id);
  // While it was looked up, the session may have come here (another request of it took it over).
  if (owner === undefined && answeredHere(x, request)) return;
  if (owner === undefined) return refuseUnknown(x, request);
  if (!isForwardable(x, request)) {
    // A WebSocket or SSE resume: the session comes here (takeover.ts), where the directory can move it.
    if (canTakeOver(directory)) return takeOverFrom(x, request, { directory, owner, headers: headersOf(x.req) });
    return refuse(x, 'session-elsewhere');
  }
  return forwardRequest(x, request, { directory, owner, pollTimeout });
}

/** A poll, POST or DELETE carried to `owner` and its answer written here. */
async function forwardRequest(x: Exchange, request: ResumeRequest, { directory, owner, pollTimeout }: Cluster & { owner: string }): Promise<void> {
  const body = x.req.method === 'POST' ? await bodyOf(x) : undefined;
  if (body === null) return refuse(x, 'payload-too-large');
  const controller = new AbortController();
  x.res.once('close', () => controller.abort()); // the client went away: the owner lets go of its poll
  const forwarded: ForwardedRequest = { method: x.req.method ?? 'GET', url: x.req.url ?? '/', headers: headersOf(x.req), body, address: x.req.socket?.remoteAddress };
  const answer = await forwardToOwner(directory, { id: request.id, owner, forwarded }, { signal: controller.signal, timeout: pollTimeout + answerMargin });
  // A draining owner serves no more polls: the session comes here instead, while it still can.
  if (request.poll && x.req.method === 'GET' && isShuttingDown(answer) && canTakeOver(directory)) {
    return takeOverFrom(x, request, { directory, owner, headers: forwarded.headers });
  }
  writeAnswer(x.res, answer);
}

function isShuttingDown(answer: ForwardedAnswer): boolean {
  return answer.status === 503 && answer.body.includes('"shutting-down"');
}

// The session may have moved (a takeover) while the request was on its way: an owner that no
// longer knows it sends the request on to the new one.
async function forwardToOwner(directory: SessionDirectory, { id, owner, forwarded }: { id: string; owner: string; forwarded: ForwardedRequest }, options: { signal: AbortSignal; timeout: number }): Promise<ForwardedAnswer> {
  const answer = await directory.forward(owner, forwarded, options);
  if (answer.status !== 404) return answer;
  const now = await directory.locate(id);
  return now !== undefined && now !== owner ? directory.forward(now, forwarded, options) : answer;
}

// An owner claims a new session in Redis as it answers the session's first request, and the
// client's next request may reach another process before that claim is written: a session
// nobody owns is looked up once more after this long before it is called unknown.
const claimRace = 100;

async function locateSoon(directory: SessionDirectory, id: string): Promise<string | undefined> {
  const owner = await directory.locate(id);
  if (owner !== undefined) return owner;
  await new Promise((resolve) => setTimeout(resolve, claimRace));
  return directory.locate(id);
}

/** A poll, a POST or a DELETE: a request whose answer is one response. */
function isForwardable(x: Exchange, request: ResumeRequest): boolean {
  if (x.upgrade !== undefined) return false;
  return x.req.method === 'POST' || x.req.method === 'DELETE' || (x.req.method === 'GET' && request.poll);
}

function bodyOf(x: Exchange): Promise<string | null> {
  return new Promise((resolve) => readBody(x.req, x.hub.options.maxPayload, (body) => resolve(body ?? null)));
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of forwardedHeaders) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function writeAnswer(res: ServerResponse, answer: ForwardedAnswer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(answer.body);
}

/** On the owner: answers a request another process received, as if it had come here. */
export function serveForwarded(host: SessionRequestHost, request: ForwardedRequest, exchange: ForwardedExchange): void {
  const res = new ForwardedResponse((answer) => exchange.answer(answer), exchange.cancelled);
  const parsed = sessionRequestOf(request.url, request.headers);
  if (parsed === undefined || parsed.kind === 'open') {
    res.writeHead(400, { 'content-type': 'application/json; charset=utf-8' }).end('{"error":"bad-request","message":"Not a session request."}');
    return;
  }
  handleSessionRequest(host, { req: forwardedRequest(request), res: res.asServerResponse(), upgrade: undefined, forwarded: true }, parsed);
}
