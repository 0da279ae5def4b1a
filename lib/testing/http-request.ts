import { request, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { cutSocket } from './cut.js';
import { Inbox, type Ended } from './inbox.js';
import { defaultTimeout, within } from './within.js';

/** Options of {@link TestScope.http} and {@link TestScope.eventStream}. */
export interface RequestOptions {
  /** @defaultValue `'GET'` */
  method?: string;
  /** Request headers (an event stream gets `accept: text/event-stream` unless given). */
  headers?: Record<string, string>;
  /** A request body (a POST's). */
  body?: string | Buffer;
}

/** The head of an HTTP answer. */
export interface ResponseHead {
  /** The status code. */
  status: number;
  /** The headers, lower-cased as Node gives them. */
  headers: IncomingHttpHeaders;
}

/** Told of each chunk and of the end, as they happen (the event stream's parser). */
export interface ChunkListener {
  chunk(text: string): void;
  end(ended: Ended): void;
}

/**
 * One plain HTTP request on a connection of its own: a long-poll that waits for its answer,
 * or a stream whose chunks arrive one by one (`send(x, { close: false })`).
 */
export class TestRequest {
  readonly #url: string;
  readonly #request: ClientRequest;
  readonly #chunks: Inbox<string>;
  readonly #head: Promise<ResponseHead>;
  #socket: Socket | undefined;
  readonly #listener: ChunkListener | undefined;

  /** @internal Use {@link TestScope.http}. */
  constructor(url: string, options: RequestOptions = {}, listener?: ChunkListener) {
    this.#url = url;
    this.#listener = listener;
    this.#chunks = new Inbox<string>(`${options.method ?? 'GET'} ${url}`);
    // agent: false: a connection of its own, so cutting it cuts nothing else.
    this.#request = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false });
    this.#request.on('socket', (socket: Socket) => (this.#socket = socket));
    this.#head = new Promise((resolve, reject) => {
      this.#request.on('response', (response: IncomingMessage) => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers });
        this.#read(response);
      });
      this.#request.on('error', (error) => {
        this.#end({ reason: error.message });
        reject(new Error(`${options.method ?? 'GET'} ${url} failed: ${error.message}`));
      });
    });
    this.#head.catch(() => undefined); // told through response() and the inbox
    this.#request.end(options.body);
  }

  /** The body chunks received so far, as text, in order. */
  get chunks(): readonly string[] {
    return this.#chunks.messages;
  }

  /** Resolves with the status and headers once they arrive (a long-poll: with its answer). */
  response(ms = defaultTimeout): Promise<ResponseHead> {
    return within(this.#head, ms, `the answer to ${this.#url}`);
  }

  /** The next body chunk not taken yet (streaming), as text. */
  next(ms = defaultTimeout): Promise<string> {
    return this.#chunks.next(ms);
  }

  /** The whole body, once the server ended the response. */
  async body(ms = defaultTimeout): Promise<string> {
    const ended = await this.#chunks.closed(ms);
    if (ended.reason !== 'end') throw new Error(`the response to ${this.#url} did not end normally: ${ended.reason}`);
    return this.#chunks.messages.join('');
  }

  /** Resolves how the response ended: `'end'`, `'cut'` or the error. */
  closed(ms = defaultTimeout): Promise<Ended> {
    return this.#chunks.closed(ms);
  }

  /** Cuts the connection as the network would (TCP reset). */
  cut(): void {
    this.#end({ reason: 'cut' });
    if (this.#socket !== undefined) cutSocket(this.#socket);
    else this.#request.destroy();
  }

  #read(response: IncomingMessage): void {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.#chunks.push(chunk);
      this.#listener?.chunk(chunk);
    });
    response.on('end', () => this.#end({ reason: 'end' }));
    response.on('error', (error) => this.#end({ reason: error.message }));
    response.on('close', () => this.#end({ reason: 'aborted' }));
  }

  #end(ended: Ended): void {
    if (this.#chunks.ended !== undefined) return;
    this.#chunks.end(ended);
    this.#listener?.end(ended);
  }
}
