import { within } from './within.js';

/** How a test connection ended. */
export interface Ended {
  /** WebSocket close code, or undefined for HTTP. */
  code?: number | undefined;
  /** The close reason the peer sent, or what ended the connection (`'end'`, `'cut'`, an error's message). */
  reason: string;
}

/**
 * What a test connection received, in order, and how it ended. `next` hands each message once,
 * in order; `ended` resolves once the connection is over.
 */
export class Inbox<M> {
  /** Every message received so far, in order (whether `next` took it or not). */
  readonly messages: M[] = [];
  #read = 0;
  #waiting: Array<() => void> = [];
  #ended: Ended | undefined;
  readonly #label: string;

  constructor(label: string) {
    this.#label = label;
  }

  push(message: M): void {
    this.messages.push(message);
    this.#wake();
  }

  end(ended: Ended): void {
    if (this.#ended !== undefined) return;
    this.#ended = ended;
    this.#wake();
  }

  get ended(): Ended | undefined {
    return this.#ended;
  }

  /** The next message not taken yet; fails when the connection ends first, or after `ms`. */
  async next(ms: number): Promise<M> {
    await within(this.#until(() => this.#read < this.messages.length || this.#ended !== undefined), ms, () => `the next message on ${this.#describe()}`);
    if (this.#read < this.messages.length) return this.messages[this.#read++] as M;
    throw new Error(`${this.#label} ended (${describeEnd(this.#ended as Ended)}) before a next message; ${this.#describe()}`);
  }

  /** Resolves how the connection ended; fails after `ms` while it is still open. */
  async closed(ms: number): Promise<Ended> {
    await within(this.#until(() => this.#ended !== undefined), ms, () => `the end of ${this.#describe()}, still open`);
    return this.#ended as Ended;
  }

  #until(done: () => boolean): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else this.#waiting.push(check);
      };
      this.#waiting.push(check);
    });
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const check of waiting) check();
  }

  #describe(): string {
    const count = this.messages.length;
    const last = count === 0 ? '' : `, the last ${preview(this.messages[count - 1])}`;
    return `${this.#label} (${count} received${last}, ${this.#read} taken by next())`;
  }
}

function describeEnd(ended: Ended): string {
  return ended.code === undefined ? ended.reason : `${ended.code} ${ended.reason}`.trim();
}

function preview(message: unknown): string {
  const text = typeof message === 'string' ? message : Buffer.isBuffer(message) ? `<${message.length} bytes>` : JSON.stringify(message);
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}
