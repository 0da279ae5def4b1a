// Session over polling (docs/protocol.md, "Polling"): GET answers carry the hello fields and
// the messages from `next` on; each GET's `eca` acknowledges what the last one brought, so an
// answer lost on the way is sent again. Client messages go by POST.
import { fromWire, isCount, isRecord, parseHello, type Data, type Hello } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, sessionClosed, unavailable } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { failure, networkError, requestInit, sessionParams, sessionUrl } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

const superseded = Symbol('superseded');

/** A well-formed poll answer. */
interface Answer {
  hello: Hello;
  messages: Data[];
  /** The reason the session closed, when it did. */
  closed: string | undefined;
}

export function openPoll(ctx: TransportContext, sink: TransportSink): Transport {
  const controller = new AbortController();
  let done = false;
  let session = ctx.session;
  let opened = false;

  const end = (error: ClientError): false => {
    if (!done) {
      done = true;
      controller.abort();
      sink.end(error);
    }
    return false;
  };

  // A held poll is answered only when there is something to say, so a resuming poll could
  // not tell within openTimeout whether its session still exists; an empty POST can, at once.
  const resume = async (id: string): Promise<boolean> => {
    const received = await postNothing(ctx, id, controller.signal);
    if (done) return false;
    if (!isCount(received)) return end(new ClientError('protocol', 'poll: the resuming POST answered without "received"'));
    opened = true;
    sink.open({ session: id, next: ctx.lastSeq() + 1, received });
    return true;
  };

  /** One poll; false when the loop must stop. */
  const poll = async (): Promise<boolean> => {
    const url = sessionUrl(ctx.url, { ...sessionParams(session, ctx.lastSeq()), ect: 'poll' });
    const body = await fetchJson(ctx.options, url, {}, controller.signal);
    if (done) return false;
    if (body === superseded && opened) return true;
    const answer = parseAnswer(body);
    if (answer === undefined) return end(new ClientError('protocol', 'poll: malformed answer'));
    const first = !opened;
    opened = true;
    if (first) session = answer.hello.session;
    deliver(answer, first, sink, () => done);
    if (answer.closed !== undefined) return end(sessionClosed(answer.closed, 200));
    return !done;
  };

  void (async () => {
    try {
      if (session !== undefined && !(await resume(session))) return;
      while (await poll());
    } catch (error) {
      end(error instanceof ClientError ? error : networkError('poll', error));
    }
  })();

  // No `ack`: every poll carries `eca`, acknowledging is what polling does.
  return {
    name: 'poll',
    close() {
      done = true;
      controller.abort();
    },
  };
}

/** The answer's JSON body; `superseded` for a 204. */
async function fetchJson(options: ResolvedOptions, url: string, init: RequestInit, signal: AbortSignal): Promise<unknown> {
  const fetch = options.fetch;
  if (fetch === undefined) throw unavailable('fetch');
  try {
    const response = await fetch(url, { ...requestInit(options, { Accept: 'application/json' }, signal), ...init });
    // 204: a newer poll superseded this one.
    if (response.status === 204) return superseded;
    if (!response.ok) throw await failure(response, 'poll');
    return parseJson(await response.text());
  } catch (error) {
    throw error instanceof ClientError ? error : networkError('poll', error);
  }
}

/** POSTs no messages to session `id`: the `received` of the answer, unchecked. */
async function postNothing(ctx: TransportContext, id: string, signal: AbortSignal): Promise<unknown> {
  const init = { method: 'POST', body: '[]', headers: { ...ctx.options.headers(), 'Content-Type': 'application/json' } };
  const body = await fetchJson(ctx.options, sessionUrl(ctx.url, { ecs: id, eca: ctx.lastSeq() }), init, signal);
  return isRecord(body) ? body['received'] : undefined;
}

/** The first answer opens the transport, later ones only sync it; then its messages, numbered from `next`. */
function deliver({ hello, messages }: Answer, first: boolean, sink: TransportSink, stopped: () => boolean): void {
  if (first) sink.open(hello);
  else sink.sync(hello);
  for (let i = 0; i < messages.length && !stopped(); i++) sink.message(messages[i] as Data, hello.next + i);
}

/** The hello, messages and close reason of a poll answer; undefined when it is malformed. */
function parseAnswer(body: unknown): Answer | undefined {
  const hello = parseHello(body);
  if (hello === undefined || !isRecord(body) || !Array.isArray(body['messages'])) return undefined;
  const messages = body['messages'].map(fromWire);
  if (messages.includes(undefined)) return undefined;
  const closed = body['closed'];
  return { hello, messages: messages as Data[], closed: typeof closed === 'string' ? closed : undefined };
}
