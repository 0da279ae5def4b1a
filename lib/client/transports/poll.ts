// Session over polling (docs/protocol.md, "Polling"): GET answers carry the hello fields and
// the messages from `next` on; each GET's `eca` acknowledges what the last one brought, so an
// answer lost on the way is sent again. Client messages go by POST.
import { isCount, isRecord, parseHello, receivedFromWire, type Hello, type Received } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { failure, networkError, postNothing, requestInit, secretHeaders, sessionParams, sessionUrl, type SessionKey } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

const superseded = Symbol('superseded');

/** A well-formed poll answer. */
interface Answer {
  hello: Hello;
  messages: Received[];
  /** The reason the session closed, when it did. */
  closed?: string | undefined;
  /** On a shutdown: ms to wait before coming back. */
  retry?: number | undefined;
  /** How long the server may hold the next poll. */
  holdFor?: number | undefined;
}

export function openPoll(ctx: TransportContext, sink: TransportSink): Transport {
  const controller = new AbortController();
  let done = false;
  let holdFor: number | undefined; // the server's pollTimeout, from its answers
  let session: SessionKey | undefined; // known once the first answer opened the transport

  /** Stops polling; false when already stopped. */
  const stop = (): boolean => !done && ((done = true), controller.abort(), true);
  const end = (error: ClientError): false => {
    if (stop()) sink.end(error);
    return false;
  };

  /** Hands an answer to the sink: the first opens the transport, later ones sync it; then its messages, numbered from `next`. False when the loop must stop. */
  const take = (answer: Answer | ClientError | typeof superseded): boolean => {
    if (done) return false;
    if (answer === superseded) return true;
    if (answer instanceof ClientError) return end(answer);
    const { hello, messages, closed } = answer;
    holdFor = answer.holdFor ?? holdFor;
    const first = session === undefined;
    session ??= ctx.session ?? { id: hello.session, secret: hello.secret };
    if (first) sink.open(hello);
    else sink.sync(hello);
    for (let i = 0; i < messages.length && !done; i++) sink.message(messages[i]!.data, hello.next + i, messages[i]!.name);
    if (closed !== undefined) return end(closedError(closed, answer.retry));
    return !done;
  };

  void (async () => {
    try {
      if (ctx.session !== undefined && !take(await resume(ctx, ctx.session, controller.signal))) return;
      while (take(await poll(ctx, session, watched(controller.signal, holdFor))));
    } catch (error) {
      end(error instanceof ClientError ? error : networkError('poll', error));
    }
  })();

  // No `ack`: every poll carries `eca`, acknowledging is what polling does.
  return {
    name: 'poll',
    close: () => void stop(),
  };
}

/** What a poll answer with `closed` means: a shutdown is a lost connection to come back from (after `retry` ms), anything else the end. */
function closedError(closed: string, retry: number | undefined): ClientError {
  if (closed !== 'shutdown') return sessionClosed(closed, 200);
  const error = new ClientError('lost', 'poll: the server is shutting down');
  error.retryAfter = retry;
  return error;
}

/** One poll: its answer, `superseded` (a 204: a newer poll took over), or why it is not an answer. */
async function poll(ctx: TransportContext, session: SessionKey | undefined, signal: AbortSignal): Promise<Answer | ClientError | typeof superseded> {
  const url = sessionUrl(ctx.url, { ...sessionParams(session, ctx.lastSeq()), ect: 'poll' });
  const headers = { ...ctx.options.headers(), Accept: 'application/json', ...secretHeaders(session) };
  let body: unknown;
  try {
    body = await fetchJson(ctx.options, url, { signal, headers });
  } finally {
    (signal as Watched).release?.(); // answered (or failed): no watchdog left behind
  }
  // Only a poll of an open transport can be superseded: a 204 to the first one is malformed.
  if (body === superseded && session !== undefined) return superseded;
  return parseAnswer(body) ?? new ClientError('protocol', 'poll: malformed answer');
}

// A held poll is answered only when there is something to say, so a resuming poll could
// not tell within openTimeout whether its session still exists; an empty POST can, at once.
/** Resumes session `id` with a POST of no messages: the answer to open with, or why there is none. */
async function resume(ctx: TransportContext, session: SessionKey, signal: AbortSignal): Promise<Answer | ClientError> {
  const body = await postNothing(ctx.options, sessionUrl(ctx.url, { ecs: session.id, eca: ctx.lastSeq() }), { session, signal });
  const received = isRecord(body) ? body['received'] : undefined;
  if (!isCount(received)) return new ClientError('protocol', 'poll: the resuming POST answered without "received"');
  return { hello: { session: session.id, next: ctx.lastSeq() + 1, received }, messages: [] };
}

/** The answer's JSON body; `superseded` for a 204. `init` is laid over the default request. */
async function fetchJson(options: ResolvedOptions, url: string, init: RequestInit & { signal: AbortSignal }): Promise<unknown> {
  const fetch = options.fetch;
  if (fetch === undefined) throw unavailable('fetch');
  try {
    const response = await fetch(url, { ...requestInit(options, { Accept: 'application/json' }, init.signal), ...init });
    // 204: a newer poll superseded this one.
    if (response.status === 204) return superseded;
    if (!response.ok) throw await failure(response, 'poll');
    return parseJson(await response.text());
  } catch (error) {
    throw error instanceof ClientError ? error : networkError('poll', error);
  }
}

/** The hello, messages and close reason of a poll answer; undefined when it is malformed. */
function parseAnswer(body: unknown): Answer | undefined {
  const hello = parseHello(body);
  if (hello === undefined || !isRecord(body) || !Array.isArray(body['messages'])) return undefined;
  const messages = body['messages'].map(receivedFromWire);
  if (messages.includes(undefined)) return undefined;
  const { closed, retry, pollTimeout } = body;
  return { hello, messages: messages as Received[], closed: typeof closed === 'string' ? closed : undefined, retry: isCount(retry) ? retry : undefined, holdFor: isCount(pollTimeout) ? pollTimeout : undefined };
}

/**
 * A poll held longer than the server said it would hold one (plus a margin for the answer's
 * way back) is lost, though nothing closed: a connection that died silently (a NAT that forgot
 * it). It is given up, and the session resumed on a new one.
 */
function watched(signal: AbortSignal, holdFor: number | undefined): AbortSignal {
  if (holdFor === undefined) return signal;
  // A controller of our own, not AbortSignal.timeout()/any(): Node 20 may garbage-collect a
  // signal that only such a composite refers to, and it then never aborts.
  const watchdog = new AbortController();
  const stop = (): void => watchdog.abort();
  signal.addEventListener('abort', stop, { once: true });
  const timer = setTimeout(stop, holdFor + Math.max(2000, holdFor / 5));
  const own = watchdog.signal as Watched;
  own.release = () => (clearTimeout(timer), signal.removeEventListener('abort', stop));
  return own;
}

type Watched = AbortSignal & { release?: () => void };
