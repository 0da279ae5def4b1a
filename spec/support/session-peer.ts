// A minimal session client written straight from docs/protocol.md, so the server's session
// behaviour is tested against the documented wire format and not against our own client.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createParser } from 'eventsource-parser';
import WebSocket from 'ws';

export type PeerTransport = 'websocket' | 'sse' | 'poll';

export interface PeerHello {
  session: string;
  /** Only in a new session's first hello. */
  secret?: string;
  next: number;
  received: number;
  gap?: [number, number];
}

/**
 * Keeps a session across connections: the session id, the last sequence number received,
 * every message received in order. `onGap` and `onError` record protocol violations instead of
 * throwing inside socket callbacks.
 */
export class SessionPeer {
  sessionId: string | undefined;
  secret: string | undefined;
  lastSeq = 0;
  readonly messages: string[] = [];
  readonly errors: string[] = [];
  readonly hellos: PeerHello[] = [];
  #cut: (() => void) | undefined;
  #waiters: Array<{ count: number; resolve: () => void }> = [];
  #connected = false;
  #endWaiters: Array<() => void> = [];
  #connectWaiters: Array<() => void> = [];

  constructor(
    readonly baseUrl: string,
    readonly path: string,
  ) {}

  /** Opens (or resumes) the session on `transport`; resolves once the hello arrived. */
  connect(transport: PeerTransport): Promise<PeerHello> {
    if (transport === 'websocket') return this.#connectWebSocket();
    if (transport === 'sse') return this.#connectSse();
    return this.#connectPoll();
  }

  /** Cuts the current connection abruptly (socket destroyed, no close handshake). */
  cut(): void {
    const cut = this.#cut;
    this.#cut = undefined;
    cut?.();
  }

  /** Resolves when the current connection ends (at once if there is none). */
  ended(): Promise<void> {
    if (!this.#connected) return Promise.resolve();
    return new Promise((resolve) => this.#endWaiters.push(resolve));
  }

  /** Resolves when a connection is up (its hello arrived). */
  connected(): Promise<void> {
    if (this.#connected) return Promise.resolve();
    return new Promise((resolve) => this.#connectWaiters.push(resolve));
  }

  #markConnected(): void {
    this.#connected = true;
    for (const resolve of this.#connectWaiters.splice(0)) resolve();
  }

  #markEnded(): void {
    if (!this.#connected) return;
    this.#connected = false;
    for (const resolve of this.#endWaiters.splice(0)) resolve();
  }

  /** Resolves once `count` messages have arrived in total. */
  waitFor(count: number): Promise<void> {
    if (this.messages.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  query(extra = ''): string {
    const session = this.sessionId === undefined ? 'ecs=new' : `ecs=${this.sessionId}&eca=${this.lastSeq}`;
    return `${this.path}?${session}${extra}`;
  }

  /** The headers that prove a request is this session's (docs/protocol.md, "The session secret"). */
  headers(): Record<string, string> {
    return this.secret === undefined ? {} : { 'ec-secret': this.secret };
  }

  /** The subprotocols that carry the secret on a WebSocket resume. */
  protocols(): string[] {
    return this.secret === undefined ? [] : ['express-channel', `ec-secret.${this.secret}`];
  }

  #hello(hello: PeerHello): void {
    this.sessionId = hello.session;
    if (hello.secret !== undefined) this.secret = hello.secret;
    this.hellos.push(hello);
    if (hello.gap !== undefined) this.errors.push(`gap ${hello.gap.join('-')}`);
    if (hello.next !== this.lastSeq + 1 && hello.gap === undefined) this.errors.push(`hello.next ${hello.next} after ${this.lastSeq}`);
  }

  #message(seq: number, data: string): void {
    if (seq <= this.lastSeq) return this.#error(`duplicate seq ${seq}`);
    if (seq !== this.lastSeq + 1) this.#error(`seq ${seq} after ${this.lastSeq}`);
    this.lastSeq = seq;
    this.messages.push(data);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.messages.length < w.count) return true;
      w.resolve();
      return false;
    });
  }

  #error(text: string): void {
    this.errors.push(text);
  }

  #connectWebSocket(): Promise<PeerHello> {
    const ws = new WebSocket(this.baseUrl.replace('http', 'ws') + this.query(), this.protocols());
    let next = 0;
    let sinceAck = 0;
    ws.on('error', () => {});
    this.#cut = () => ws.terminate();
    return new Promise((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      ws.on('close', (code) => {
        this.#markEnded();
        reject(new Error(`closed ${code}`));
      });
      ws.on('message', (data, isBinary) => {
        const text = data.toString();
        if (isBinary) return this.#message(next++, text);
        if (text.startsWith('c')) {
          const control = JSON.parse(text.slice(1)) as PeerHello & { type: string };
          if (control.type !== 'hello') return;
          this.#hello(control);
          next = control.next;
          this.#markConnected();
          return resolve(control);
        }
        this.#message(next++, text.slice(1));
        // Acknowledge now and then so the server's buffer stays small.
        if (++sinceAck >= 100 && ws.readyState === WebSocket.OPEN) {
          sinceAck = 0;
          ws.send(`c${JSON.stringify({ type: 'ack', seq: this.lastSeq })}`);
        }
      });
    });
  }

  #connectSse(): Promise<PeerHello> {
    return new Promise((resolve, reject) => {
      const req = request(this.baseUrl + this.query(), { headers: { accept: 'text/event-stream', ...this.headers() } });
      this.#cut = () => req.destroy();
      req.on('error', () => this.#markEnded());
      req.on('close', () => this.#markEnded());
      req.on('response', (res: IncomingMessage) => {
        if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
        const parser = createParser({
          onEvent: (event) => {
            if (event.event === 'ec-hello') {
              const hello = JSON.parse(event.data) as PeerHello;
              this.#hello(hello);
              this.#markConnected();
              return resolve(hello);
            }
            if (event.event?.startsWith('ec-') === true) return;
            const seq = Number(event.id?.split('.').at(-1));
            this.#message(seq, event.data);
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('error', () => {});
      });
      req.end();
    });
  }

  #connectPoll(): Promise<PeerHello> {
    let active: ClientRequest | undefined;
    let stopped = false;
    this.#cut = () => {
      stopped = true;
      active?.destroy();
    };
    const pollOnce = (): Promise<PeerHello | undefined> =>
      new Promise((resolve, reject) => {
        const req = request(this.baseUrl + this.query('&ect=poll'), { headers: this.headers() });
        active = req;
        req.on('error', () => {
          stopped = true;
          resolve(undefined);
        });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('error', () => {
            stopped = true;
            resolve(undefined);
          });
          res.on('end', () => {
            if (res.statusCode === 204) return resolve(undefined);
            if (res.statusCode !== 200) return reject(new Error(`poll answered ${res.statusCode}: ${body}`));
            const answer = JSON.parse(body) as PeerHello & { messages: string[]; closed?: string };
            this.#hello(answer);
            answer.messages.forEach((m, i) => this.#message(answer.next + i, m));
            if (answer.closed !== undefined) stopped = true;
            resolve(answer);
          });
        });
        req.end();
      });
    return pollOnce().then((first) => {
      if (first === undefined) throw new Error('first poll failed');
      this.#markConnected();
      const loop = async (): Promise<void> => {
        while (!stopped) await pollOnce().catch((error: Error) => this.#error(error.message));
        this.#markEnded();
      };
      void loop();
      return first;
    });
  }
}
