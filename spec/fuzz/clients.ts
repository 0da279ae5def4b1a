// The clients a scenario mixes: the raw protocol peer of spec/support (written from
// docs/protocol.md, it flags duplicates, gaps and wrong hellos itself), which POSTs its own
// messages here; the real client library, which reconnects and resumes by itself; and plain
// channels without a session, which share the groups' broadcasts.
import { request, type ClientRequest } from 'node:http';
import { createParser } from 'eventsource-parser';
import WebSocket from 'ws';
import { connect, type ChannelCloseEvent, type Connection } from '../../lib/client/node.js';
import { SessionPeer } from '../support/session-peer.js';
import type { Pulse } from './harness.js';
import { gapsIn, type Seen } from './oracle.js';
import type { Transport } from './model.js';

interface Answer {
  status: number;
  body: string;
}

/** One HTTP request on a connection of its own (no keep-alive: a cut must hit one client only). */
function http(method: string, url: string, proof: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? proof : { 'content-type': 'application/json', ...proof };
    const req = request(url, { method, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** `received` of a POST answer, which must be 200. */
function receivedOf(answer: Answer, what: string): number {
  const received = answer.status === 200 ? (JSON.parse(answer.body) as { received?: unknown }).received : undefined;
  if (typeof received !== 'number') throw new Error(`${what} answered ${answer.status} ${answer.body}`);
  return received;
}

/** The raw peer, with the POSTs, acknowledgements and goodbyes docs/protocol.md describes. */
export class PeerClient {
  readonly kind = 'peer';
  readonly peer: SessionPeer;
  /** Failed (re)connections that no later cut explains. */
  readonly failures: string[] = [];
  #posted = 0;
  #lastPost: string[] = [];
  // Bumped by every cut: a connection attempt that fails after a cut was cut, not refused.
  #generation = 0;

  constructor(
    readonly name: string,
    readonly url: string,
  ) {
    const { origin, pathname } = new URL(url);
    this.peer = new SessionPeer(origin, pathname);
  }

  get messages(): readonly string[] {
    return this.peer.messages;
  }

  /** What it received; the peer's own flags (duplicates, jumps, gaps) and failed connects. */
  seen(): Seen {
    return { texts: this.peer.messages, gaps: gapsIn(this.peer.errors), flags: [...this.peer.errors, ...this.failures] };
  }

  get lastSeq(): number {
    return this.peer.lastSeq;
  }

  /** Resolves once the message numbered `seq` (or a later one) arrived. */
  async untilSeq(seq: number): Promise<void> {
    while (this.peer.lastSeq < seq) await this.peer.waitFor(this.peer.messages.length + 1);
  }

  /** Connects (or resumes) on `transport`; resolves with the hello (a held poll resolves later). */
  connect(transport: Transport): Promise<unknown> {
    const generation = this.#generation;
    const hello = this.peer.connect(transport);
    hello.catch((error: Error) => {
      if (generation === this.#generation) this.failures.push(`${transport} connect: ${error.message}`);
    });
    return hello;
  }

  /** Cuts the connection; resolves once it ended and whatever it still carried was read. */
  async cut(): Promise<void> {
    this.#generation++;
    this.peer.cut();
    await this.peer.ended();
    // A socket's last bytes are read on the turn it closes (ws reads what it buffered).
    await new Promise((resolve) => setImmediate(resolve));
  }

  #session(): string {
    if (this.peer.sessionId === undefined) throw new Error(`${this.name} has no session yet`);
    return this.peer.sessionId;
  }

  /** POSTs `texts` as the next client messages; resolves with the acknowledgement it carried. */
  async post(texts: string[]): Promise<number> {
    const first = this.#posted + 1;
    this.#lastPost = texts;
    const ack = await this.#send(first, texts);
    this.#posted += texts.length;
    return ack;
  }

  /** POSTs the last batch again: the server must skip it (a retry after a lost answer). */
  repost(): Promise<number> {
    return this.#send(this.#posted - this.#lastPost.length + 1, this.#lastPost);
  }

  async #send(first: number, texts: string[]): Promise<number> {
    const ack = this.peer.lastSeq;
    const query = `ecs=${this.#session()}&ecm=${first}&eca=${ack}`;
    const received = receivedOf(await http('POST', `${this.url}?${query}`, this.peer.headers(), JSON.stringify(texts)), `${this.name}'s POST from ${first}`);
    if (received !== this.#posted + (first > this.#posted ? texts.length : 0)) throw new Error(`${this.name}'s POST from ${first} answered received ${received}`);
    return ack;
  }

  /** An empty POST acknowledging everything received so far; resolves with that number. */
  async ack(): Promise<number> {
    const ack = this.peer.lastSeq;
    const received = receivedOf(await http('POST', `${this.url}?ecs=${this.#session()}&eca=${ack}`, this.peer.headers(), '[]'), `${this.name}'s acknowledgement`);
    if (received !== this.#posted) throw new Error(`${this.name}'s acknowledgement answered received ${received}, ${this.#posted} were posted`);
    return ack;
  }

  /** Ends the session (DELETE), as a client that leaves does. */
  async goodbye(): Promise<void> {
    const answer = await http('DELETE', `${this.url}?ecs=${this.#session()}`, this.peer.headers());
    if (answer.status !== 204) throw new Error(`${this.name}'s DELETE answered ${answer.status} ${answer.body}`);
  }

  stop(): void {
    this.#generation++;
    this.peer.cut();
  }
}

/** The client library (lib/client/node.ts) on one transport, its events recorded. */
export class LibClient {
  readonly kind = 'client';
  readonly conn: Connection;
  readonly messages: string[] = [];
  readonly seqs: number[] = [];
  readonly gaps: Array<[number, number]> = [];
  opens = 0;
  closeEvent: ChannelCloseEvent | undefined;

  constructor(
    readonly name: string,
    url: string,
    transports: Transport[],
    pulse: Pulse,
  ) {
    this.conn = connect(url, { transports, reconnect: { minDelay: 5, maxDelay: 40 }, openTimeout: 2000 });
    this.conn.addEventListener('message', (event) => {
      this.messages.push(String(event.data));
      this.seqs.push(event.seq);
      pulse.notify();
    });
    this.conn.addEventListener('gap', (event) => this.gaps.push([event.first, event.last]));
    this.conn.addEventListener('open', () => {
      this.opens++;
      pulse.notify();
    });
    this.conn.addEventListener('close', (event) => {
      this.closeEvent = event;
      pulse.notify();
    });
  }

  send(text: string): void {
    this.conn.send(text);
  }

  goodbye(): void {
    this.conn.close();
  }

  seen(): Seen {
    return { texts: this.messages, seqs: this.seqs, gaps: this.gaps, flags: [] };
  }

  get lastSeq(): number {
    return this.seqs[this.seqs.length - 1] ?? 0;
  }

  stop(): void {
    this.conn.close();
  }
}

/**
 * A plain channel (no session: a bare WebSocket or event stream, as http-kit's): it gets what
 * is sent while it is connected, and its channel ends with its connection.
 */
export class PlainClient {
  readonly kind = 'plain';
  readonly messages: string[] = [];
  #ws: WebSocket | undefined;
  #sse: ClientRequest | undefined;

  constructor(
    readonly name: string,
    readonly url: string,
    readonly pulse: Pulse,
  ) {}

  open(transport: Transport): Promise<void> {
    return transport === 'websocket' ? this.#openWebSocket() : this.#openSse();
  }

  #push(text: string): void {
    this.messages.push(text);
    this.pulse.notify();
  }

  #openWebSocket(): Promise<void> {
    const ws = new WebSocket(this.url.replace(/^http/, 'ws'));
    this.#ws = ws;
    ws.on('message', (data, isBinary) => this.#push(`${isBinary ? 'binary:' : ''}${String(data)}`));
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      ws.on('error', reject);
    });
  }

  #openSse(): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = request(this.url, { agent: false, headers: { accept: 'text/event-stream' } });
      this.#sse = req;
      req.on('error', reject);
      req.on('response', (res) => {
        if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
        const parser = createParser({ onEvent: (event) => this.#push(event.data) });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('error', () => undefined);
        resolve();
      });
      req.end();
    });
  }

  /** A client message (a WebSocket only: a plain event stream cannot send). */
  send(text: string): void {
    this.#ws?.send(text);
  }

  /** Drops the connection (no close handshake); `goodbye` closes it properly. */
  cut(): void {
    this.#ws?.terminate();
    this.#sse?.destroy();
  }

  goodbye(): void {
    this.#ws?.close(1000);
    this.#sse?.destroy();
  }

  seen(): Seen {
    return { texts: this.messages, gaps: [], flags: [] };
  }

  get lastSeq(): number {
    return this.messages.length;
  }

  stop(): void {
    this.cut();
  }
}

export type FuzzClient = PeerClient | LibClient | PlainClient;
