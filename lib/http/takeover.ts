// Takeover (docs/scaling.md, "Takeover"): a WebSocket or SSE resume that reaches a process
// which does not hold its session. Its connection is here and cannot be forwarded, so the
// session comes here: the owner hands it over (handOverSession) and closes its channel with
// 'moved'; this process adopts it and runs the route again (takeOverFrom). A poll is taken
// over the same way when its owner is draining (hub.ts, drain).
import type { IncomingMessage } from 'node:http';
import { channelOf, type Channel } from '../channel/channel.js';
import type { ChannelCore } from '../channel/core.js';
import type { ResumeRequest } from '../protocol/params.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { HighWaterMarks, Takeover, TakeoverAnswer, TakeoverDirectory, TakeoverRequest } from '../sessions/directory.js';
import type { HandedSession } from '../sessions/session.js';
import { forwardedRequest } from './forwarded-exchange.js';
import { transportFromHeaders } from './negotiate.js';
import { clientMessage, handedClientMessage } from '../sessions/handover.js';
import { answeredHere, isSessionErrorCode, refuse, refuseUnknown, unprovenBy, type AdoptingHost, type Exchange } from './session-requests.js';

/** How long the owner may take to hand a session over; past it, it refuses (the asker gave up). */
const handOverWithin = 5000;
// The asker waits this much longer than that for the answer to travel back.
const answerMargin = 3000;

/** What handing a session over needs of the `live` instance that holds it. */
export interface HandingHost {
  readonly sessions: SessionStore<ChannelCore>;
  readonly options: { readonly authorizeResume: ((req: IncomingMessage, channel: Channel) => boolean) | undefined };
}

/** Where the session is, and how to ask for it. */
export interface TakeoverRoute {
  directory: TakeoverDirectory;
  owner: string;
  /** The headers the owner's `authorizeResume` sees (those a forwarded request carries). */
  headers: Record<string, string>;
}

/**
 * On the process the resume reached: asks `owner` for the session, adopts it, and lets the
 * request go on to the route with `req.channel` the session's channel (`resumed` true).
 */
export async function takeOverFrom(x: Exchange, request: ResumeRequest, route: TakeoverRoute): Promise<void> {
  if (x.hub.adopt === undefined || x.continueAs === undefined || x.hub.takeovers === undefined) return refuse(x, 'session-elsewhere');
  // Another request of the session already asked for it (a client that gave up an attempt
  // and came back): this one waits and is then answered here; so is one for a session that
  // arrived while it was looked up.
  if (answeredHere(x, request)) return;
  const done = takeOver(x, request, route);
  const takeovers = x.hub.takeovers;
  // What waiting requests wait for: settled either way (this one's own failure is its own).
  takeovers.set(request.id, done.catch(() => undefined).finally(() => takeovers.delete(request.id)));
  return done;
}

async function takeOver(x: Exchange, request: ResumeRequest, route: TakeoverRoute): Promise<void> {
  const transport = request.poll ? 'poll' : transportFromHeaders(x.req.headers);
  if (transport === 'http') return refuse(x, 'bad-request', 'a resume is a WebSocket upgrade, an event stream (Accept: text/event-stream) or a poll (ect=poll)');
  const takeover = await askWithRetry(x, request, route);
  const { answer } = takeover;
  if ('refused' in answer) {
    takeover.finish(undefined);
    if (answeredHere(x, request)) return;
    // A plain EventSource ends for good on any refusal: it gets a new session instead.
    if (request.fromLastEventId === true) return refuseUnknown(x, request);
    return refuse(x, isSessionErrorCode(answer.refused) ? answer.refused : 'internal-error');
  }
  const { state } = answer;
  // One tick from here to the groups joined: a broadcast arriving later reaches the session
  // through its groups, one arriving earlier is among the late ones.
  const late = takeover.finish(state);
  const handed: HandedSession = { id: request.id, secret: state.secret, received: state.received, first: state.first, messages: state.messages, late, held: state.held.map(clientMessage) };
  const core = (x.hub as Required<AdoptingHost>).adopt({ req: x.req, res: x.res, upgrade: x.upgrade }, { transport, handed, groups: state.groups, ack: request.ack });
  x.continueAs?.(channelOf(core));
}

// A session that moved on while this request was on its way (another takeover landed first)
// is asked of its new owner, once.
async function askWithRetry(x: Exchange, request: ResumeRequest, { directory, owner, headers }: TakeoverRoute): Promise<Takeover> {
  const ask = (from: string) => {
    const asked: TakeoverRequest = { id: request.id, ack: request.ack, credentials: request.credentials, url: x.req.url ?? '/', headers, deadline: Date.now() + handOverWithin };
    return directory.takeOver(from, asked, { timeout: handOverWithin + answerMargin });
  };
  const first = await ask(owner);
  if (!('refused' in first.answer) || first.answer.refused !== 'unknown-session') return first;
  first.finish(undefined);
  // Another request of the session brought it here meanwhile: it is answered here (takeOver).
  if (x.hub.sessions.find(request.id) !== undefined) return first;
  const now = first.answer.movedTo ?? (await directory.locate(request.id));
  return now === undefined || now === owner ? first : ask(now);
}

/**
 * On the owner: hands session `request.id` over to the process that asks, if the request
 * proves it is the session's client. Synchronous: nothing reaches the session between the
 * state read here and its channel closing with 'moved'.
 */
export function handOverSession(host: HandingHost, request: TakeoverRequest, highWater: HighWaterMarks): TakeoverAnswer {
  // The asker stops waiting at its deadline: a session handed over after it would be lost.
  if (Date.now() > request.deadline) return { refused: 'owner-unreachable' };
  const channel = host.sessions.find(request.id);
  if (channel?.session === undefined) return { refused: 'unknown-session' };
  const unproven = unprovenBy(channel, { credentials: { secret: request.credentials.secret, ticket: request.credentials.ticket } });
  if (unproven !== undefined) return { refused: unproven };
  const authorize = host.options.authorizeResume;
  const req = forwardedRequest({ method: 'GET', url: request.url, headers: request.headers });
  if (authorize !== undefined && !authorize(req, channelOf(channel))) return { refused: 'resume-refused' };
  if (!channel.session.isValidAck(request.ack)) return { refused: 'bad-request' };
  const groups = channel.groupNames();
  channel.session.acknowledge(request.ack);
  const held = channel.session.unacknowledged();
  // Read while the session is still a member: a group it was the last member of here is forgotten as it leaves.
  const marks = highWater(groups);
  const received = channel.session.received;
  const heldForHandler = channel.movedAway().map(handedClientMessage);
  return { state: { secret: channel.session.secret, received, first: held.first, messages: held.messages, groups, highWater: marks, held: heldForHandler } };
}
