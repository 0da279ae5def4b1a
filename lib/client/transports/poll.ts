// Session over polling (docs/protocol.md, "Polling"): GET answers carry the hello fields and
// the messages from `next` on; each GET's `eca` acknowledges what the last one brought, so an
// answer lost on the way is sent again. Client messages go by POST.
import { fromWire, isCount, isRecord, parseHello, parseJson, type Data, type Hello } from '../codec.js';
import { ClientError, sessionClosed } from '../errors.js';
import { failure, networkError, requestInit, sessionParams, sessionUrl } from './http.js';
import type { Transport, TransportContext, TransportSink } from './transport.js';

const superseded = Symbol('superseded');

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

  /** The answer's JSON body; `superseded` for a 204. */
  const request = async (url: string, init: RequestInit): Promise<unknown> => {
    const fetch = ctx.options.fetch;
    if (fetch === undefined) throw new ClientError('unavailable', 'fetch is not available in this runtime');
    let response: Response;
    try {
      response = await fetch(url, { ...requestInit(ctx.options, { Accept: 'application/json' }, controller.signal), ...init });
      // 204: a newer poll superseded this one.
      if (response.status === 204) return superseded;
      if (!response.ok) throw await failure(response, 'poll');
      return parseJson(await response.text());
    } catch (error) {
      throw error instanceof ClientError ? error : networkError('poll', error);
    }
  };

  // A held poll is answered only when there is something to say, so a resuming poll could
  // not tell within openTimeout whether its session still exists; an empty POST can, at once.
  const resume = async (id: string): Promise<boolean> => {
    const init = { method: 'POST', body: '[]', headers: { ...ctx.options.headers(), 'Content-Type': 'application/json' } };
    const body = await request(sessionUrl(ctx.url, { ecs: id, eca: ctx.lastSeq() }), init);
    const received = isRecord(body) ? body['received'] : undefined;
    if (done) return false;
    if (!isCount(received)) return end(new ClientError('protocol', 'poll: the resuming POST answered without "received"'));
    opened = true;
    sink.open({ session: id, next: ctx.lastSeq() + 1, received });
    return true;
  };

  /** One poll; false when the loop must stop. */
  const poll = async (): Promise<boolean> => {
    const body = await request(sessionUrl(ctx.url, { ...sessionParams(session, ctx.lastSeq()), ect: 'poll' }), {});
    if (done) return false;
    if (body === superseded && opened) return true;
    const hello = parseHello(body);
    const raw = isRecord(body) ? body['messages'] : undefined;
    const messages = Array.isArray(raw) ? raw.map(fromWire) : undefined;
    if (hello === undefined || messages === undefined || messages.includes(undefined)) return end(new ClientError('protocol', 'poll: malformed answer'));
    deliver(hello, messages as Data[]);
    const closed = isRecord(body) ? body['closed'] : undefined;
    if (typeof closed === 'string') return end(sessionClosed(closed, 200));
    return !done;
  };

  const deliver = (hello: Hello, messages: Data[]): void => {
    if (opened) sink.sync(hello);
    else {
      opened = true;
      session = hello.session;
      sink.open(hello);
    }
    for (let i = 0; i < messages.length && !done; i++) sink.message(messages[i] as Data, hello.next + i);
  };

  const loop = async (): Promise<void> => {
    try {
      if (session !== undefined && !(await resume(session))) return;
      while (await poll());
    } catch (error) {
      end(error instanceof ClientError ? error : networkError('poll', error));
    }
  };
  void loop();

  return {
    name: 'poll',
    flush: () => undefined,
    // Every poll carries `eca`: acknowledging is what polling does.
    ack: () => undefined,
    close() {
      done = true;
      controller.abort();
    },
  };
}
