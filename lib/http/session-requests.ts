import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { IncomingMessage as Request } from 'node:http';
import type { WebSocketServer } from 'ws';
import { channelOf, type Channel } from '../channel/channel.js';
import type { ChannelCore } from '../channel/core.js';
import type { UpgradeContext } from '../channel/host.js';
import type { SessionStore } from '../sessions/session-store.js';
import { transportFromHeaders } from './negotiate.js';
import { parseMessageList } from '../transports/json-messages.js';
import type { SessionRequest } from '../protocol/params.js';

type ResumeRequest = Extract<SessionRequest, { kind: 'resume' }>;

/** Stable error codes of session requests (docs/protocol.md, "Errors"). */
type SessionErrorCode = 'bad-request' | 'origin-not-allowed' | 'resume-refused' | 'unknown-session' | 'out-of-order' | 'payload-too-large' | 'busy' | 'shutting-down';

const messages: Record<SessionErrorCode, string> = {
  'bad-request': 'Malformed session request.',
  'origin-not-allowed': 'This Origin may not use this endpoint.',
  'resume-refused': 'The server refused to resume this session.',
  'unknown-session': 'No session with this id: it expired or never existed. Open a new one with ecs=new.',
  'out-of-order': 'A message is missing before this batch: resend from received + 1.',
  'payload-too-large': 'The body is larger than maxPayload.',
  busy: 'The application is not reading messages yet: send them again later.',
  'shutting-down': 'The server is shutting down.',
};

const failedPoll = 'The server failed to answer this poll; the session is closed.';
const failedPost = 'The server failed to take these messages; the session is closed.';

// Close codes a browser can read on a WebSocket whose resume failed (4000-4999 are ours).
const webSocketCloseCodes: Partial<Record<SessionErrorCode, number>> = {
  'unknown-session': 4404,
  'resume-refused': 4403,
  'bad-request': 4400,
};

/** What answering session requests needs of the `live` instance (the hub). */
export interface SessionRequestHost {
  readonly closing: boolean;
  readonly sessions: SessionStore<ChannelCore>;
  readonly options: {
    readonly maxPayload: number;
    readonly authorizeResume: ((req: Request, channel: Channel) => boolean) | undefined;
    isOriginAllowed(origin: string | undefined, req: Request): boolean;
  };
  webSocketServer(): WebSocketServer;
  reportError(error: unknown): void;
}

/**
 * Answers a request that continues a session: a resume on WebSocket, SSE or poll, a POST of
 * client messages, or a DELETE that ends the session. These requests went through every
 * middleware mounted before `live` (so auth applies) but not through the route: the channel
 * and its handlers already exist.
 */
export function handleSessionRequest(hub: SessionRequestHost, req: IncomingMessage, res: ServerResponse, request: SessionRequest, upgrade: UpgradeContext | undefined): void {
  if (request.kind === 'invalid') return refuse(hub, res, upgrade, 400, 'bad-request', request.message);
  if (request.kind === 'open') return;
  if (hub.closing) return refuse(hub, res, upgrade, 503, 'shutting-down');
  const channel = hub.sessions.find(request.id);
  if (channel === undefined) {
    const closed = request.poll && req.method === 'GET' ? hub.sessions.takeClosed(request.id) : undefined;
    if (closed !== undefined) return answerClosedPoll(hub, res, closed, request.ack);
    return refuse(hub, res, upgrade, 404, 'unknown-session');
  }
  const authorize = hub.options.authorizeResume;
  if (authorize !== undefined && !authorize(req, channelOf(channel))) return refuse(hub, res, upgrade, 403, 'resume-refused');
  if (req.method === 'POST') return receivePost(hub, req, res, channel, request);
  if (req.method === 'DELETE') {
    channel.close('client-close');
    res.writeHead(204, { 'cache-control': 'no-store' }).end();
    return;
  }
  resumeConnection(hub, req, res, channel, request, upgrade);
}

function resumeConnection(hub: SessionRequestHost, req: IncomingMessage, res: ServerResponse, channel: ChannelCore, request: ResumeRequest, upgrade: UpgradeContext | undefined): void {
  const transport = request.poll ? 'poll' : transportFromHeaders(req.headers);
  if (transport === 'http') return refuse(hub, res, upgrade, 400, 'bad-request', 'a resume is a WebSocket upgrade, an event stream (Accept: text/event-stream) or a poll (ect=poll)');
  if (channel.session?.isValidAck(request.ack) !== true) return refuse(hub, res, upgrade, 400, 'bad-request', 'eca is past the last message sent');
  channel.resume({ req, res, upgrade }, transport, request.ack);
}

function receivePost(hub: SessionRequestHost, req: IncomingMessage, res: ServerResponse, channel: ChannelCore, request: ResumeRequest): void {
  if (!hub.options.isOriginAllowed(req.headers.origin, req)) return refuse(hub, res, undefined, 403, 'origin-not-allowed');
  readBody(req, hub.options.maxPayload, (body) => {
    // Runs in the request's 'end' listener: a throw there would reach the process.
    try {
      answerPost(hub, res, channel, request, body);
    } catch (error) {
      channel.failed(error);
      sendJson(res, 500, { error: 'internal-error', message: failedPost });
    }
  });
}

function answerPost(hub: SessionRequestHost, res: ServerResponse, channel: ChannelCore, request: ResumeRequest, body: string | undefined): void {
  const first = request.firstMessage;
  if (body === undefined) return refuse(hub, res, undefined, 413, 'payload-too-large');
  const parsed = parseMessageList(body);
  if (!Array.isArray(parsed)) return refuse(hub, res, undefined, 400, 'bad-request', parsed.error);
  if (parsed.length > 0 && first === undefined) return refuse(hub, res, undefined, 400, 'bad-request', 'a POST with messages needs ecm');
  channel.session?.acknowledge(request.ack);
  const result = parsed.length > 0 ? channel.receivePosted(first as number, parsed) : { received: channel.session?.received ?? 0, outcome: 'ok' };
  if (result.outcome === 'closed') return refuse(hub, res, undefined, 404, 'unknown-session');
  if (result.outcome === 'busy') return refuse(hub, res, undefined, 503, 'busy', undefined, { received: result.received });
  if (result.outcome === 'out-of-order') return refuse(hub, res, undefined, 409, 'out-of-order', undefined, { received: result.received });
  sendJson(res, 200, { received: result.received });
}

/** The last poll of a session the application closed: what the client missed, and why. */
function answerClosedPoll(hub: SessionRequestHost, res: ServerResponse, channel: ChannelCore, ack: number): void {
  let answer;
  try {
    answer = channel.session?.pollAnswer(ack);
  } catch (error) {
    hub.reportError(error);
    return sendJson(res, 500, { error: 'internal-error', message: failedPoll });
  }
  if (answer === undefined) return;
  sendJson(res, 200, { ...answer, closed: channel.closeReason ?? 'server-close' });
}

/** Reads a body up to `limit` bytes; calls back with undefined past it. */
function readBody(req: IncomingMessage, limit: number, done: (body: string | undefined) => void): void {
  // A body parser that ran before us (express.json()) already consumed the stream.
  const parsedBody = (req as { body?: unknown }).body;
  if (req.readableEnded && parsedBody !== undefined) return done(JSON.stringify(parsedBody));
  // Read by someone else without a parsed body left behind: nothing will come any more.
  if (req.readableEnded) return done('');
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

function refuse(hub: SessionRequestHost, res: ServerResponse, upgrade: UpgradeContext | undefined, status: number, code: SessionErrorCode, detail?: string, extra?: object): void {
  const closeCode = webSocketCloseCodes[code];
  if (upgrade !== undefined && closeCode !== undefined) {
    // A browser cannot read the status of a refused upgrade, but it can read a close code.
    upgrade.release();
    hub.webSocketServer().handleUpgrade(res.req, upgrade.socket, upgrade.head, (ws) => {
      ws.on('error', terminateOnError); // a bad frame before the close completes must not crash
      ws.close(closeCode, code);
    });
    return;
  }
  sendJson(res, status, { error: code, message: detail ?? messages[code], ...extra });
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function terminateOnError(this: WebSocket): void {
  this.terminate();
}
