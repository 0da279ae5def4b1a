import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket, { type ClientOptions } from 'ws';
import { cutSocket } from './cut.js';
import { Inbox, type Ended } from './inbox.js';
import { defaultTimeout, within } from './within.js';

/** A message a WebSocket received: text as a string, binary as a Buffer. */
export type WebSocketMessage = string | Buffer;

/** A raw WebSocket client (the `ws` package), its messages collected from the handshake on. */
export class TestWebSocket {
  /** The `ws` client itself, for what the helpers do not cover. */
  readonly ws: WebSocket;
  readonly #inbox: Inbox<WebSocketMessage>;

  /** @internal Use {@link TestScope.webSocket}. */
  constructor(ws: WebSocket, inbox: Inbox<WebSocketMessage>) {
    this.ws = ws;
    this.#inbox = inbox;
  }

  /** Every message received so far, in order. */
  get messages(): readonly WebSocketMessage[] {
    return this.#inbox.messages;
  }

  /** Sends a text (string) or binary message. */
  send(data: string | Buffer | Uint8Array): void {
    this.ws.send(data);
  }

  /**
   * The next message not taken yet.
   * @param ms - how long to wait before failing with what was received so far.
   * @defaultValue ms: 5000
   */
  next(ms = defaultTimeout): Promise<WebSocketMessage> {
    return this.#inbox.next(ms);
  }

  /** Resolves with the close code and reason; fails after `ms` if the socket is still open. */
  closed(ms = defaultTimeout): Promise<Ended> {
    return this.#inbox.closed(ms);
  }

  /** Starts the closing handshake (code 1000 unless told). */
  close(code = 1000, reason?: string): void {
    this.ws.close(code, reason);
  }

  /** Cuts the connection as the network would: a TCP reset, no close frame. */
  cut(): void {
    // ws shows no socket of its own; it has kept it in `_socket` through every 8.x release.
    // Without one (not connected yet), terminate() is the nearest thing.
    const socket = (this.ws as unknown as { _socket?: Socket })._socket;
    if (socket !== undefined) cutSocket(socket);
    else this.ws.terminate();
  }
}

/** Opens a `ws` client; resolves after the 101, or fails with the HTTP answer that refused it. */
export async function openWebSocket(url: string, options: ClientOptions = {}): Promise<TestWebSocket> {
  const ws = new WebSocket(url, options);
  const inbox = new Inbox<WebSocketMessage>(`the WebSocket ${url}`);
  // Listen before the handshake completes: a message sent with the 101 arrives in its chunk.
  ws.on('message', (data: Buffer, isBinary) => inbox.push(isBinary ? data : data.toString()));
  ws.on('close', (code, reason) => inbox.end({ code, reason: reason.toString() }));
  ws.on('error', (error) => inbox.end({ reason: error.message }));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', (error) => reject(new Error(`the WebSocket ${url} failed to open: ${error.message}`)));
    ws.once('unexpected-response', (request, response: IncomingMessage) => {
      readBody(response).then((body) => {
        request.destroy();
        reject(new Error(`the WebSocket handshake with ${url} was answered ${response.statusCode}${body === '' ? '' : `: ${body}`}`));
      }, reject);
    });
  });
  try {
    await within(opened, defaultTimeout, `the WebSocket handshake with ${url}`);
  } catch (error) {
    ws.terminate();
    throw error;
  }
  return new TestWebSocket(ws, inbox);
}

async function readBody(response: IncomingMessage): Promise<string> {
  let body = '';
  response.setEncoding('utf8');
  for await (const chunk of response) body += chunk as string;
  return body.length > 200 ? `${body.slice(0, 197)}...` : body;
}
