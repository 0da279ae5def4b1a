// The scenario fuzzer's language and its model. A scenario is plain data (so a counterexample
// can be pasted back as a fixed test case); the model is what a correct server must do with
// it: which messages each client receives, in order, and which of its own messages the route
// sees. Nothing here touches a socket.
import fc from 'fast-check';

export type Transport = 'websocket' | 'sse' | 'poll';

/** A library client's transports: its own first, then the others in the default order. */
export function transportsOf(spec: ClientSpec): Transport[] {
  return [spec.transport, ...(['websocket', 'sse', 'poll'] as const).filter((t) => t !== spec.transport)];
}

export interface ClientSpec {
  /**
   * 'peer': the raw protocol peer (spec/support/session-peer.ts); 'client': lib/client/node.ts;
   * 'plain': a bare WebSocket or event stream without a session ('poll' stands for WebSocket).
   */
  kind: 'peer' | 'client' | 'plain';
  transport: Transport;
  /** Groups the route adds the channel to as it opens, before anything else. */
  joins: number[];
  /** The route then sends `welcome:NAME` to this channel alone. */
  welcome: boolean;
  /** Opened by an `open` step instead of before the first step. */
  lazy: boolean;
}

/**
 * One thing that happens. Client and group numbers are taken modulo the scenario's counts, so
 * any step fits any scenario (and shrinking one never invalidates the other); a step that
 * applies to the `who`-th client it can apply to (see Model.target), and is skipped if none can.
 */
export type Step =
  | { op: 'open'; who: number }
  | { op: 'join' | 'leave'; who: number; group: number }
  /** `pad` lengthens each message by that many bytes (the byte bounds and trims count bytes). */
  | { op: 'broadcast'; group: number; except: number | null; count: number; pad?: number }
  | { op: 'send'; who: number; count: number; pad?: number }
  /** Client → server; with a group, the route broadcasts it there except to its sender (a chat). */
  | { op: 'chat'; who: number; group: number | null; count: number }
  /** The peer sends its last POST again, as after a lost answer: it must not be delivered twice. */
  | { op: 'repost'; who: number }
  /** The peer acknowledges what it has (an empty POST with `eca`). */
  | { op: 'ack'; who: number }
  /** The connection is lost: a peer stays offline until `resume`, a client reconnects by itself. */
  | { op: 'cut'; who: number }
  | { op: 'resume'; who: number; transport: Transport }
  /** A library client's transport starts failing: it must resume on the next one of its list. */
  | { op: 'switch'; who: number }
  /** `ch.close()` on the server / the client ends the session itself. */
  | { op: 'close' | 'goodbye'; who: number }
  /** A quiescent point: everything so far must have arrived, exactly. */
  | { op: 'settle' };

export interface Scenario {
  /** The `sessionBuffer` bounds; null for a buffer no scenario fills (no gap may occur). */
  buffer: { messages: number; bytes: number } | null;
  groups: number;
  clients: ClientSpec[];
  steps: Step[];
}

export type Status = 'unopened' | 'online' | 'offline' | 'closed';

export interface ClientState {
  readonly name: string;
  readonly spec: ClientSpec;
  status: Status;
  /** The transport it last connected on. */
  transport: Transport;
  /** What the server sent it, in order: its sequence numbers are the positions + 1. */
  readonly expected: string[];
  /** What the route's onReceive got from it, in order. */
  readonly posted: string[];
  /** Whether the client may not have heard everything: it left, or was closed while away. */
  partial: boolean;
  /** Who closed its channel, once closed. */
  closedBy: 'server' | 'client' | undefined;
  /** Whether it was offline when its channel closed. */
  closedAway: boolean;
  /** The highest sequence number the server is known to have been acknowledged. */
  confirmed: number;
  /** Whether more than the buffer's bounds were ever unacknowledged: gaps are then allowed. */
  gapPossible: boolean;
  /** Bytes of `expected` up to each position (a prefix sum, for the byte bound). */
  readonly bytesThrough: number[];
}

/** Client `i` is called A, B, C…: the route is `/live/NAME`. */
export function nameOf(i: number): string {
  return String.fromCharCode(65 + i);
}

export class Model {
  readonly clients: ClientState[];
  readonly members: Set<number>[];

  constructor(readonly scenario: Scenario) {
    this.clients = scenario.clients.map((spec, i) => ({
      name: nameOf(i),
      spec,
      status: 'unopened',
      transport: spec.kind === 'plain' && spec.transport === 'poll' ? 'websocket' : spec.transport,
      expected: [],
      posted: [],
      partial: false,
      closedBy: undefined,
      closedAway: false,
      confirmed: 0,
      gapPossible: false,
      bytesThrough: [0],
    }));
    this.members = Array.from({ length: scenario.groups }, () => new Set<number>());
  }

  who(index: number): number {
    return index % this.clients.length;
  }

  group(index: number): number {
    return index % this.members.length;
  }

  client(index: number): ClientState {
    return this.clients[this.who(index)] as ClientState;
  }

  /** Whether the server holds an open channel for this client. */
  isOpen(index: number): boolean {
    const status = this.client(index).status;
    return status === 'online' || status === 'offline';
  }

  /**
   * The client `step` acts on: its `who`-th among those it can apply to now (the clients a
   * resume can bring back are the offline ones, say), so few steps go to waste. Undefined
   * when none can; the driver then skips the step.
   */
  target(step: Exclude<Step, { op: 'settle' | 'broadcast' }>): number | undefined {
    const eligible = this.clients.flatMap((client, i) => (this.#eligible(step.op, client) ? [i] : []));
    return eligible.length === 0 ? undefined : eligible[step.who % eligible.length];
  }

  #eligible(op: Step['op'], client: ClientState): boolean {
    const peer = client.spec.kind === 'peer';
    const open = client.status === 'online' || client.status === 'offline';
    switch (op) {
      case 'open':
        return client.status === 'unopened';
      case 'resume':
        return client.status === 'offline';
      case 'cut':
        return client.status === 'online';
      case 'switch':
        return client.status === 'online' && client.spec.kind === 'client';
      case 'send':
        // Also after the close: send() must then return false.
        return client.status !== 'unopened';
      case 'chat':
        // A library client that is not connected would send once back, after later steps:
        // only peers, which POST, send while away. A plain event stream cannot send.
        if (client.spec.kind === 'plain') return client.status === 'online' && client.transport === 'websocket';
        return client.status === 'online' || (peer && open);
      case 'repost':
        return peer && open && client.posted.length > 0;
      case 'ack':
        return peer && open;
      default:
        return open;
    }
  }

  opened(index: number): void {
    const client = this.client(index);
    client.status = 'online';
    for (const group of client.spec.joins) this.members[this.group(group)]?.add(this.who(index));
    if (client.spec.welcome) this.deliver(index, `welcome:${client.name}`);
  }

  deliver(index: number, text: string): void {
    if (!this.isOpen(index)) return;
    const client = this.client(index);
    client.expected.push(text);
    client.bytesThrough.push((client.bytesThrough.at(-1) ?? 0) + Buffer.byteLength(text));
    const bound = this.scenario.buffer;
    if (bound === null) return;
    const unacknowledged = client.expected.length - client.confirmed;
    // The server may count a few bytes of framing per message on top of its data.
    const bytes = (client.bytesThrough.at(-1) ?? 0) - (client.bytesThrough[client.confirmed] ?? 0) + 64 * unacknowledged;
    if (unacknowledged > bound.messages || bytes > bound.bytes) client.gapPossible = true;
  }

  /** The server has (at least) this acknowledgement of the client's. */
  acknowledged(index: number, seq: number): void {
    const client = this.client(index);
    client.confirmed = Math.max(client.confirmed, seq);
  }

  broadcast(group: number, except: number | null, text: string): void {
    const skip = except === null ? -1 : this.who(except);
    for (const member of this.members[this.group(group)] ?? []) if (member !== skip) this.deliver(member, text);
  }

  join(index: number, group: number): void {
    this.members[this.group(group)]?.add(this.who(index));
  }

  leave(index: number, group: number): void {
    this.members[this.group(group)]?.delete(this.who(index));
  }

  /** A message the route received from this client (and broadcast, for a chat). */
  posted(index: number, text: string, group: number | null): void {
    this.client(index).posted.push(text);
    if (group !== null) this.broadcast(group, index, text);
  }

  /** The channel closed: it leaves its groups, later sends to it return false. */
  closed(index: number, by: 'server' | 'client', partial: boolean): void {
    const client = this.client(index);
    client.closedAway = client.status === 'offline';
    client.status = 'closed';
    client.closedBy = by;
    client.partial = partial;
    for (const members of this.members) members.delete(this.who(index));
  }
}

/** The text of the `i`-th message of step `n`: unique, so a misplaced one is easy to name. */
export function textOf(kind: string, n: number, i: number, group: number | null = null, pad = 0): string {
  return `${kind}${n}.${i}${'~'.repeat(pad)}${group === null ? '' : `>g${group}`}`;
}

/** The group a chat message asks the route to broadcast to, if any. */
export function chatGroup(text: string): number | undefined {
  const match = /^.*>g(\d+)$/.exec(text);
  return match === null ? undefined : Number(match[1]);
}

// ---- generation --------------------------------------------------------------------------

const transport = fc.constantFrom<Transport>('websocket', 'sse', 'poll');
const who = fc.nat({ max: 3 });
const group = fc.nat({ max: 1 });
// Mostly a few messages; now and then a burst past the group log's trim period (64 appends).
const count = fc.oneof({ withCrossShrink: true }, { weight: 12, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 60, max: 140 }) });

// Large messages now and then: past the group logs' 256 KiB trim period in a burst or two.
const pad = fc.constantFrom(1000, 30_000);

const client: fc.Arbitrary<ClientSpec> = fc.record({
  kind: fc.constantFrom<ClientSpec['kind']>('peer', 'client', 'peer', 'client', 'plain'),
  transport,
  joins: fc.subarray([0, 1]),
  welcome: fc.boolean(),
  lazy: fc.boolean(),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('open' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('join' as const, 'leave' as const), who, group }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('broadcast' as const), group, except: fc.option(who, { nil: null }), count, pad }, { requiredKeys: ['op', 'group', 'except', 'count'] }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('send' as const), who, count, pad }, { requiredKeys: ['op', 'who', 'count'] }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('chat' as const), who, group: fc.option(group, { nil: null }), count }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repost' as const), who }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('cut' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('resume' as const), who, transport }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('switch' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('close' as const, 'goodbye' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('settle' as const) }) },
);

export const scenarios: fc.Arbitrary<Scenario> = fc.record({
  // Mostly buffers that hold everything; sometimes bounds that bursts overflow, so the
  // group logs hand private copies to the sessions far behind and resumes report gaps.
  buffer: fc.constantFrom(null, null, null, ...[3, 8, 40].map((messages) => ({ messages, bytes: 1 << 30 })), { messages: 1000, bytes: 100_000 }),
  groups: fc.integer({ min: 1, max: 2 }),
  clients: fc.array(client, { minLength: 2, maxLength: 4, size: 'max' }),
  // Lengths spread over the whole range (fast-check's default size keeps arrays short).
  steps: fc.array(step, { minLength: 3, maxLength: 30, size: 'max' }),
});
