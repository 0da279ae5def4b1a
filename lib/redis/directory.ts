// The session directory through Redis (lib/sessions/directory.ts): one key per session naming
// its owner, and one pub/sub channel per process, its inbox, for forwarded requests and their
// answers. An owner is alive while its presence beat has not run out (presence.ts), so a
// session whose owner was killed is unknown to every process within `deadAfter`.
import type { RedisClientType } from 'redis';
import { ChannelError } from '../errors.js';
import type { ForwardedAnswer, ForwardedExchange, ForwardedRequest, HighWaterMarks, SessionState, Takeover, TakeoverAnswer, TakeoverDirectory, TakeoverRequest } from '../sessions/directory.js';
import type { Recording } from './recording.js';

// The owner, if it is another process that is still alive. The key of a process that looks
// dead is left alone: its beat may only have lapsed (a stalled event loop, a Redis blip), and
// it still holds the session; when it beats again, its sessions are found again.
const locateScript = `
local owner = redis.call('GET', KEYS[1])
if not owner or owner == ARGV[2] then return false end
local beat = redis.call('ZSCORE', KEYS[2], owner)
if beat and tonumber(beat) >= tonumber(ARGV[1]) then return owner end
return false`;

// Only the owner lets go of its key: another process may have taken the session over since.
const releaseScript = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type InboxMessage =
  | { t: 'req'; rid: number; from: string; request: ForwardedRequest }
  | { t: 'ans'; rid: number; answer: ForwardedAnswer }
  | { t: 'cancel'; rid: number; from: string }
  | { t: 'take'; rid: number; from: string; request: TakeoverRequest }
  | { t: 'taken'; rid: number; answer: TakeoverAnswer };

interface Pending {
  owner: string;
  resolve(answer: unknown): void;
  reject(error: Error): void;
}

// How long a process remembers where a session it handed over went.
const movedMemory = 10_000;

// While requests wait for owners, their owners' beats are checked this often: an owner that
// died mid-request is noticed once its beat runs out, not after the whole request timeout.
const ownerCheckInterval = 1000;

export interface DirectorySettings {
  prefix: string;
  /** This process's id (the same as its presence's). */
  id: string;
  onError(error: unknown): void;
  /**
   * Starts recording the broadcasts heard here (a takeover waits); `stop` ends it. `settle`,
   * when there is one (streams mode), runs once the answer came, before it is finished.
   */
  record(): { recording: Recording; stop(marks?: SessionState['highWater']): void; settle?(state: SessionState): Promise<void> };
  /** Per group, the last number of each publisher's broadcasts delivered here. */
  highWater: HighWaterMarks;
}

export class RedisDirectory implements TakeoverDirectory {
  readonly #client: RedisClientType;
  readonly #settings: DirectorySettings;
  readonly #pending = new Map<number, Pending>();
  // Requests forwarded here and not answered yet, by "from\nrid": cancelled if their client goes.
  readonly #serving = new Map<string, AbortController>();
  #handler: ((request: ForwardedRequest, exchange: ForwardedExchange) => void) | undefined;
  #takeoverHandler: ((request: TakeoverRequest, highWater: HighWaterMarks) => TakeoverAnswer) | undefined;
  #nextRid = 1;
  // The sessions this process holds (their keys name it), to write again after a reconnect.
  readonly #owned = new Set<string>();
  // Sessions handed to another process lately, by id: a takeover that asks here for one gets
  // told where it went (the key in Redis says so too, but a lookup may race the SET).
  readonly #movedTo = new Map<string, string>();
  #ownerCheck: NodeJS.Timeout | undefined;

  constructor(client: RedisClientType, settings: DirectorySettings) {
    this.#client = client;
    this.#settings = settings;
  }

  /** The pub/sub channel of process `id`. */
  inboxOf(id: string): string {
    return `${this.#settings.prefix}:process:${id}`;
  }

  #key(session: string): string {
    return `${this.#settings.prefix}:session:${session}`;
  }

  claimed(id: string): void {
    this.#owned.add(id);
    // Not connected (starting, or Redis away): written when the connection is ready (reclaim).
    if (this.#client.isReady) this.#client.set(this.#key(id), this.#settings.id).catch(this.#settings.onError);
  }

  released(id: string): void {
    this.#owned.delete(id);
    if (this.#client.isReady) this.#client.eval(releaseScript, { keys: [this.#key(id)], arguments: [this.#settings.id] }).catch(this.#settings.onError);
  }

  /**
   * Writes the key of every session this process holds: once connected, and again after each
   * reconnect (a Redis that restarted keeps nothing), so that its sessions are found again.
   */
  reclaim(): void {
    for (const id of this.#owned) this.#client.set(this.#key(id), this.#settings.id).catch(this.#settings.onError);
  }

  async locate(id: string): Promise<string | undefined> {
    const keys = [this.#key(id), `${this.#settings.prefix}:processes`];
    const owner = await this.#client.eval(locateScript, { keys, arguments: [String(Date.now()), this.#settings.id] });
    return typeof owner === 'string' ? owner : undefined;
  }

  /**
   * Asks `owner` to hand a session over. Broadcasts are recorded from before the request
   * leaves until `finish` is called on the answer (or the request fails).
   */
  async takeOver(owner: string, request: TakeoverRequest, { timeout }: { timeout: number }): Promise<Takeover> {
    const { recording, stop, settle } = this.#settings.record();
    const rid = this.#nextRid++;
    let answer: TakeoverAnswer;
    try {
      answer = await this.#ask<TakeoverAnswer>(owner, { t: 'take', rid, from: this.#settings.id, request }, timeout);
      // The session is handed over whatever happens now: a failure to settle is told, not fatal.
      if ('state' in answer && settle !== undefined) await settle(answer.state).catch(this.#settings.onError);
    } catch (error) {
      stop();
      throw error;
    }
    let finished = false;
    const finish = (state: SessionState | undefined) => {
      if (finished) return [];
      finished = true;
      if (state === undefined) {
        stop();
        return [];
      }
      const { late, marks } = recording.late(state);
      stop(marks); // where the session stands now: what this process delivers next follows on
      return late;
    };
    return { answer, finish };
  }

  serveTakeovers(handler: (request: TakeoverRequest, highWater: HighWaterMarks) => TakeoverAnswer): void {
    this.#takeoverHandler = handler;
  }

  // A takeover request from another process: the session goes there, its key points there
  // before the answer leaves (one connection: Redis runs the SET first), so that no request
  // of the session is sent back here after it left.
  #handOver({ rid, from, request }: Extract<InboxMessage, { t: 'take' }>): void {
    let answer: TakeoverAnswer;
    try {
      answer = this.#takeoverHandler?.(request, this.#settings.highWater) ?? { refused: 'unknown-session' };
    } catch (error) {
      this.#settings.onError(error);
      answer = { refused: 'internal-error' };
    }
    if ('state' in answer) {
      this.#owned.delete(request.id);
      this.#client.set(this.#key(request.id), from).catch(this.#settings.onError);
      this.#movedTo.set(request.id, from);
      setTimeout(() => this.#movedTo.delete(request.id), movedMemory).unref();
    } else if (answer.refused === 'unknown-session') {
      answer.movedTo = this.#movedTo.get(request.id);
    }
    this.#send(from, { t: 'taken', rid, answer });
  }

  // One request to `owner` and its answer, failed when the owner is gone or late.
  #ask<T>(owner: string, message: InboxMessage, timeout: number): Promise<T> {
    const rid = message.rid;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(new ChannelError('ERR_CHANNEL_ADAPTER', `the process that holds the session did not answer within ${timeout} ms`));
      }, timeout);
      const settle = (): void => {
        clearTimeout(timer);
        this.#pending.delete(rid);
      };
      this.#pending.set(rid, { owner, resolve: (answer) => (settle(), resolve(answer as T)), reject: (error) => (settle(), reject(error)) });
      this.#send(owner, message);
      this.#watchOwners();
    });
  }

  forward(owner: string, request: ForwardedRequest, { signal, timeout }: { signal: AbortSignal; timeout: number }): Promise<ForwardedAnswer> {
    const rid = this.#nextRid++;
    return new Promise<ForwardedAnswer>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#pending.delete(rid);
      };
      const onAbort = (): void => {
        settle();
        this.#send(owner, { t: 'cancel', rid, from: this.#settings.id });
        reject(new ChannelError('ERR_CHANNEL_ADAPTER', 'the client went away before the owner answered'));
      };
      const timer = setTimeout(() => {
        settle();
        reject(new ChannelError('ERR_CHANNEL_ADAPTER', `the process that holds the session did not answer within ${timeout} ms`));
      }, timeout);
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(rid, { owner, resolve: (answer) => (settle(), resolve(answer as ForwardedAnswer)), reject: (error) => (settle(), reject(error)) });
      this.#send(owner, { t: 'req', rid, from: this.#settings.id, request });
      this.#watchOwners();
    });
  }

  #watchOwners(): void {
    if (this.#ownerCheck !== undefined) return;
    this.#ownerCheck = setInterval(() => void this.#checkOwners(), ownerCheckInterval);
    this.#ownerCheck.unref();
  }

  /** One command for every owner waited on: those whose beat ran out fail their requests. */
  async #checkOwners(): Promise<void> {
    const waiting = [...this.#pending.values()];
    if (waiting.length === 0) {
      clearInterval(this.#ownerCheck);
      this.#ownerCheck = undefined;
      return;
    }
    const owners = [...new Set(waiting.map((p) => p.owner))];
    const beats = await this.#client.zmScore(`${this.#settings.prefix}:processes`, owners).catch(() => undefined);
    if (beats === undefined) return;
    const now = Date.now();
    const dead = new Set(owners.filter((_, i) => !((beats[i] ?? 0) >= now)));
    for (const pending of waiting) {
      if (dead.has(pending.owner)) pending.reject(new ChannelError('ERR_CHANNEL_OWNER_GONE', 'the process that held the session is gone'));
    }
  }

  serve(handler: (request: ForwardedRequest, exchange: ForwardedExchange) => void): void {
    this.#handler = handler;
  }

  /** A message on this process's inbox. Never throws: node-redis calls it from its decoder. */
  receive(text: string): void {
    try {
      this.#receive(text);
    } catch (error) {
      this.#settings.onError(error);
    }
  }

  #receive(text: string): void {
    const message = parseInbox(text);
    if (message === undefined) return this.#settings.onError(new ChannelError('ERR_CHANNEL_ADAPTER', 'a malformed message on this process\'s inbox: skipped'));
    if (message.t === 'ans' || message.t === 'taken') return this.#pending.get(message.rid)?.resolve(message.answer);
    if (message.t === 'take') return this.#handOver(message);
    if (message.t === 'cancel') {
      const key = `${message.from}\n${message.rid}`;
      this.#serving.get(key)?.abort();
      this.#serving.delete(key); // no answer will be sent: the client is gone
      return;
    }
    this.#answerForwarded(message);
  }

  #answerForwarded({ rid, from, request }: Extract<InboxMessage, { t: 'req' }>): void {
    const key = `${from}\n${rid}`;
    const cancelled = new AbortController();
    this.#serving.set(key, cancelled);
    const answer = (reply: ForwardedAnswer): void => {
      if (!this.#serving.delete(key)) return;
      this.#send(from, { t: 'ans', rid, answer: reply });
    };
    try {
      this.#handler?.(request, { answer, cancelled: cancelled.signal });
    } catch (error) {
      this.#settings.onError(error);
      answer({ status: 500, headers: { 'content-type': 'application/json; charset=utf-8' }, body: '{"error":"internal-error","message":"The owner failed to answer."}' });
    }
  }

  #send(to: string, message: InboxMessage): void {
    this.#client.publish(this.inboxOf(to), JSON.stringify(message)).catch(this.#settings.onError);
  }

  /** Every request still waiting for an owner fails at once: this process is closing. */
  close(): void {
    clearInterval(this.#ownerCheck);
    for (const pending of this.#pending.values()) pending.reject(new ChannelError('ERR_CHANNEL_ADAPTER', 'closed'));
    for (const serving of this.#serving.values()) serving.abort();
  }
}

function parseInbox(text: string): InboxMessage | undefined {
  try {
    const value = JSON.parse(text) as Partial<InboxMessage> | null;
    if (value === null || typeof value !== 'object' || !Number.isSafeInteger(value.rid)) return undefined;
    return ['req', 'ans', 'cancel', 'take', 'taken'].includes(value.t as string) ? (value as InboxMessage) : undefined;
  } catch {
    return undefined;
  }
}
