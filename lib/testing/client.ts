import { connect, type Connection, type ConnectOptions, type Data, type OpenEvent } from '../client/node.js';
import { Inbox, type Ended } from './inbox.js';
import { defaultTimeout } from './within.js';

/**
 * A client of the library's own (`express-channel/client`), with its messages and opens
 * collected. Its reconnects and resumes are the real ones: cut its connection with
 * {@link TestServer.cutConnections} and await the next `opened()`.
 */
export class TestClient {
  /** The client itself, for what the helpers do not cover. */
  readonly connection: Connection;
  readonly #messages: Inbox<Data>;
  readonly #opens: Inbox<OpenEvent>;

  /** @internal Use {@link TestScope.client}. */
  constructor(url: string, options: ConnectOptions = {}) {
    this.connection = connect(url, options);
    this.#messages = new Inbox<Data>(`the client of ${url}`);
    this.#opens = new Inbox<OpenEvent>(`the client of ${url}`);
    this.connection.addEventListener('message', (event) => this.#messages.push(event.data));
    this.connection.addEventListener('open', (event) => this.#opens.push(event));
    this.connection.addEventListener('close', (event) => {
      const ended = { code: event.code, reason: event.reason };
      this.#messages.end(ended);
      this.#opens.end(ended);
    });
  }

  /** Every message received so far, in order: text as strings, binary as ArrayBuffers. */
  get messages(): readonly Data[] {
    return this.#messages.messages;
  }

  /** Resolves with the next `open` (the first, then each resume), its transport and whether it resumed. */
  opened(ms = defaultTimeout): Promise<OpenEvent> {
    return this.#opens.next(ms);
  }

  /** Sends a message; queued while disconnected, delivered once, in order. */
  send(data: string | ArrayBuffer | ArrayBufferView): void {
    this.connection.send(data);
  }

  /** The next message not taken yet. */
  next(ms = defaultTimeout): Promise<Data> {
    return this.#messages.next(ms);
  }

  /** Resolves once the client closed for good (it does not reconnect any more). */
  closed(ms = defaultTimeout): Promise<Ended> {
    return this.#messages.closed(ms);
  }

  /** Closes for good (code 1000, `'client-close'`). */
  close(): void {
    this.connection.close();
  }
}
