// Streams mode (docs/scaling.md, "Streams mode"): each named group's broadcasts go through one
// Redis Stream, PREFIX:stream:GROUP. This process reads the streams of the groups it has
// members of, on a connection of its own (XREAD BLOCK), from the last entry it read of each:
// a lost connection, or a Redis restarted with its data, costs nothing but the wait. Every
// entry is an envelope numbered per publisher and group (envelope.ts), so an entry read twice
// (an XADD sent again after a reconnect) is skipped, and a number that jumps (entries trimmed
// away before this process read them, a Redis restarted without its data) is a gap, told.
import { RESP_TYPES, type RedisClientType } from 'redis';
import type { AdapterMessage } from '../groups/adapter.js';
import type { SessionState } from '../sessions/directory.js';
import { decodeEnvelope, type Envelope } from './envelope.js';
import type { Recording } from './recording.js';

const asBuffers = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } as const;

// One XREAD waits at most this long (a closed or changed read set wakes it at once), and
// hands at most this many entries of each stream.
const blockFor = 10_000;
const readCount = 1000;
const batchAtLeast = 16;
// A takeover waits at most this long for this process's reader to reach the stream's end.
const catchUpWithin = 3000;

/** Where this process stands in a group's stream. */
interface Cursor {
  /** The id of the last entry read; undefined while the stream's end is being asked. */
  id: string | undefined;
  /** The last number read from each publisher. */
  seen: Map<string, number>;
}

export interface StreamSettings {
  prefix: string;
  /** This process's `live` instances: their entries reached their members when broadcast. */
  ownOrigins: ReadonlySet<string>;
  /** Takeovers waiting for their answer hear every entry read (recording.ts). */
  recordings: ReadonlySet<Recording>;
  deliver(message: AdapterMessage): void;
  missed(group: string, count: number): void;
  onError(error: unknown): void;
}

export class StreamReader {
  readonly #reader: RedisClientType;
  readonly #commands: RedisClientType;
  readonly #settings: StreamSettings;
  readonly #cursors = new Map<string, Cursor>();
  // Where a group taken over with a session starts, once it is occupied here (adopt).
  readonly #starts = new Map<string, Cursor>();
  readonly #waiters = new Set<{ group: string; id: string; resolve(): void }>();
  #readerId: string | undefined;
  #blocked = false;
  #unblocking = false;
  #changedAgain = false; // while an UNBLOCK was on its way: the XREAD after it may have the old set
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(reader: RedisClientType, commands: RedisClientType, settings: StreamSettings) {
    this.#reader = reader;
    this.#commands = commands;
    this.#settings = settings;
    reader.on('ready', () => {
      this.#readerId = undefined; // a new connection, a new id
      this.#wakeUp();
    });
  }

  key(group: string): string {
    return `${this.#settings.prefix}:stream:${group}`;
  }

  /** Reads until closed. */
  start(): void {
    void this.#loop();
  }

  /** `group` has members here (start reading its stream) or has none (stop). */
  resized(group: string, size: number): void {
    if (size === 0) {
      this.#cursors.delete(group);
      for (const waiter of this.#waiters) if (waiter.group === group) waiter.resolve();
      return;
    }
    if (this.#cursors.has(group)) return;
    const start = this.#starts.get(group);
    this.#starts.delete(group);
    this.#cursors.set(group, start ?? { id: undefined, seen: new Map() });
    if (start === undefined) this.#findEnd(group);
    this.#changed();
  }

  /** After a reconnect: the groups whose stream's end was not found yet are asked again. */
  reconnected(): void {
    for (const [group, cursor] of this.#cursors) if (cursor.id === undefined) this.#findEnd(group);
  }

  // A group just occupied is read from the stream's end: its members get what comes next.
  #findEnd(group: string): void {
    if (!this.#commands.isReady) return; // asked again once connected (reconnected)
    this.#commands.sendCommand<Array<[string, unknown]>>(['XREVRANGE', this.key(group), '+', '-', 'COUNT', '1']).then(
      (last) => {
        const cursor = this.#cursors.get(group);
        if (cursor === undefined || cursor.id !== undefined) return;
        cursor.id = last[0]?.[0] ?? '0-0';
        this.#changed();
      },
      (error: unknown) => {
        if (this.#commands.isReady) this.#settings.onError(error);
      },
    );
  }

  /** What this process delivered of each group: the last entry read and each publisher's number. */
  position(group: string): { id: string | undefined; seen: ReadonlyMap<string, number> } | undefined {
    return this.#cursors.get(group);
  }

  /**
   * A takeover's answer came (docs/scaling.md, "Takeover"): the session stands at the old
   * owner's positions. What the session's groups' streams hold past them is read from Redis
   * and goes before what the recording heard (recording.late drops what the session had, by
   * each publisher's number); a group read here is read on to at least that far (so that no
   * entry the session has comes to it again); a group not read here starts there (adopt).
   */
  async catchUp(recording: Recording, state: SessionState): Promise<Map<string, string>> {
    const starts = new Map<string, string>();
    const waits: Array<Promise<void>> = [];
    const fetched: Envelope[] = [];
    for (const group of state.groups) {
      const from = entryId(state.highWater[group]);
      if (from === undefined) continue;
      const entries = await this.#commands.sendCommand<RawEntry[]>(['XRANGE', this.key(group), `(${from}`, '+'], asBuffers);
      let end = from;
      for (const [id, fields] of entries) {
        end = String(id);
        const envelope = envelopeOf(fields);
        if (envelope !== undefined) fetched.push(envelope);
      }
      if (this.#cursors.get(group)?.id !== undefined) waits.push(this.#reached(group, end));
      else starts.set(group, end);
    }
    recording.caughtUp(fetched);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise((resolve) => (timer = setTimeout(resolve, catchUpWithin)))]);
    clearTimeout(timer);
    return starts;
  }

  /** The session joins `group` now: a group not read here yet is read from `id`, as the session stands. */
  adopt(group: string, id: string, seen: Record<string, number>): void {
    if (this.#cursors.has(group)) return;
    const start = { id, seen: new Map(Object.entries(seen).filter(([origin]) => !origin.startsWith('@'))) };
    this.#starts.set(group, start);
    // The session joins in this tick; a start nobody took (the adoption failed) would hand
    // old entries to the group's next members.
    setImmediate(() => this.#starts.get(group) === start && this.#starts.delete(group));
  }

  #reached(group: string, id: string): Promise<void> {
    const at = this.#cursors.get(group)?.id;
    if (at === undefined || compareIds(at, id) >= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { group, id, resolve: () => (this.#waiters.delete(waiter), resolve()) };
      this.#waiters.add(waiter);
    });
  }

  // The read set changed: an XREAD waiting with the old one returns at once.
  #changed(): void {
    if (!this.#blocked) return this.#wakeUp();
    if (this.#unblocking) {
      this.#changedAgain = true;
      return;
    }
    if (this.#readerId === undefined || !this.#commands.isReady) return;
    this.#unblocking = true;
    const done = (): void => {
      this.#unblocking = false;
      if (!this.#changedAgain) return;
      this.#changedAgain = false;
      this.#changed();
    };
    this.#commands.sendCommand(['CLIENT', 'UNBLOCK', this.#readerId]).then(done, done);
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  // Until woken (a group to read, a reconnect, close), or a second at most.
  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.#wake = () => (clearTimeout(timer), resolve());
    });
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      const reading = [...this.#cursors].filter((entry): entry is [string, Cursor & { id: string }] => entry[1].id !== undefined);
      if (!this.#reader.isReady || reading.length === 0) {
        await this.#idle();
        continue;
      }
      try {
        this.#readerId ??= String(await this.#reader.sendCommand(['CLIENT', 'ID']));
        const streams = [...reading.map(([group]) => this.key(group)), ...reading.map(([, cursor]) => cursor.id)];
        this.#blocked = true;
        const reply = await this.#reader.sendCommand<unknown>(['XREAD', 'COUNT', String(readCount), 'BLOCK', String(blockFor), 'STREAMS', ...streams], asBuffers);
        this.#blocked = false;
        // A reply of few entries: the next XREAD waits a moment so that a steady flow is
        // read in batches (one command a batch, not one a broadcast), at most 1 ms later.
        if (this.#take(reply) < batchAtLeast) await new Promise((resolve) => setTimeout(resolve, 1));
      } catch (error) {
        this.#blocked = false;
        if (this.#closed) return;
        // A lost connection: read on from the same entries once it is back (no report per
        // attempt: the adapter reports the outage). Anything else: told, and a pause.
        if (this.#reader.isReady) {
          this.#settings.onError(error);
          await this.#idle();
        }
      }
    }
  }

  /** Delivers the entries of an XREAD reply; returns how many there were. */
  #take(reply: unknown): number {
    let count = 0;
    for (const [key, entries] of streamsOf(reply)) {
      count += entries.length;
      const group = key.slice(this.#settings.prefix.length + ':stream:'.length);
      const cursor = this.#cursors.get(group);
      if (cursor === undefined) continue; // emptied while the read was on its way
      for (const [id, fields] of entries) {
        cursor.id = String(id);
        const envelope = envelopeOf(fields);
        if (envelope === undefined) this.#settings.onError(new Error(`an entry of ${key} is not a broadcast envelope: skipped`));
        else this.#entry(group, cursor, envelope);
        if (this.#cursors.get(group) !== cursor) break; // the group emptied as a member was told
      }
      for (const waiter of this.#waiters) if (waiter.group === group && compareIds(cursor.id ?? '0-0', waiter.id) >= 0) waiter.resolve();
    }
    return count;
  }

  #entry(group: string, cursor: Cursor, { message, seq }: Envelope): void {
    if (this.#settings.ownOrigins.has(message.origin)) return; // its members were reached when it was broadcast
    for (const recording of this.#settings.recordings) recording.heard(message, seq);
    const last = cursor.seen.get(message.origin);
    if (last !== undefined && seq <= last) return; // sent twice (an XADD again after a reconnect): never twice
    cursor.seen.set(message.origin, seq);
    if (last !== undefined && seq > last + 1) this.#settings.missed(group, seq - last - 1);
    this.#settings.deliver(message);
  }

  close(): void {
    this.#closed = true;
    this.#wakeUp();
    for (const waiter of this.#waiters) waiter.resolve();
  }
}

type RawEntry = [Buffer | string, Array<Buffer | string>];

/** XREAD's reply, RESP2 (an array of [key, entries]) or RESP3 (a map), as [key, entries] pairs. */
function streamsOf(reply: unknown): Array<[string, RawEntry[]]> {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) return (reply as Array<[Buffer | string, RawEntry[]]>).map(([key, entries]) => [String(key), entries]);
  if (reply instanceof Map) return [...(reply as Map<Buffer | string, RawEntry[]>)].map(([key, entries]) => [String(key), entries]);
  return Object.entries(reply as Record<string, RawEntry[]>);
}

function envelopeOf(fields: Array<Buffer | string>): Envelope | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (String(fields[i]) === 'e') {
      const value = fields[i + 1];
      return value === undefined ? undefined : decodeEnvelope(Buffer.isBuffer(value) ? value : Buffer.from(value));
    }
  }
  return undefined;
}

/** An entry id of a session's high-water marks: `@ms` and `@seq` (the marks are numbers). */
export function entryId(marks: Record<string, number> | undefined): string | undefined {
  const ms = marks?.['@ms'];
  const seq = marks?.['@seq'];
  return ms === undefined || seq === undefined ? undefined : `${ms}-${seq}`;
}

/** `id` as high-water marks. */
export function entryMarks(id: string): { '@ms': number; '@seq': number } {
  const [ms, seq] = id.split('-');
  return { '@ms': Number(ms), '@seq': Number(seq ?? 0) };
}

/** Stream entry ids in order: `ms-seq`, both parts numbers. */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  return Number(am) - Number(bm) || Number(as) - Number(bs);
}
