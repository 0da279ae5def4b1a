// The scenario fuzzer's language and its model. A scenario is plain data (so a counterexample
// can be pasted back as a fixed test case); the model is what a correct server must do with
// it: which messages each client receives, in order, and which of its own messages the route
// sees. Nothing here touches a socket.
import fc from 'fast-check';

export type Transport = 'websocket' | 'sse' | 'poll';

export interface ClientSpec {
  /** 'peer': the raw protocol peer (spec/support/session-peer.ts); 'client': lib/client/node.ts. */
  kind: 'peer' | 'client';
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
 * does not apply in the model's current state (a resume of a client that is online) is skipped.
 */
export type Step =
  | { op: 'open'; who: number }
  | { op: 'join' | 'leave'; who: number; group: number }
  | { op: 'broadcast'; group: number; except: number | null; count: number }
  | { op: 'send'; who: number; count: number }
  /** Client → server; with a group, the route broadcasts it there except to its sender (a chat). */
  | { op: 'chat'; who: number; group: number | null; count: number }
  /** The peer sends its last POST again, as after a lost answer: it must not be delivered twice. */
  | { op: 'repost'; who: number }
  /** The peer acknowledges what it has (an empty POST with `eca`). */
  | { op: 'ack'; who: number }
  /** The connection is lost: a peer stays offline until `resume`, a client reconnects by itself. */
  | { op: 'cut'; who: number }
  | { op: 'resume'; who: number; transport: Transport }
  /** `ch.close()` on the server / the client ends the session itself. */
  | { op: 'close' | 'goodbye'; who: number }
  /** A quiescent point: everything so far must have arrived, exactly. */
  | { op: 'settle' };

export interface Scenario {
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
}

/** A client index resolved against the scenario (steps carry any small number). */
export function pick<T>(list: readonly T[], index: number): T {
  return list[index % list.length] as T;
}

export class Model {
  readonly clients: ClientState[];
  readonly members: Set<number>[];

  constructor(readonly scenario: Scenario) {
    this.clients = scenario.clients.map((spec, i) => ({
      name: String.fromCharCode(65 + i),
      spec,
      status: 'unopened',
      transport: spec.transport,
      expected: [],
      posted: [],
      partial: false,
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

  /** Whether `step` means something now; the driver skips it otherwise. */
  applies(step: Step): boolean {
    if (step.op === 'settle' || step.op === 'broadcast') return true;
    const client = this.client(step.who);
    const peer = client.spec.kind === 'peer';
    switch (step.op) {
      case 'open':
        return client.status === 'unopened';
      case 'resume':
        return client.status === 'offline';
      case 'cut':
        return client.status === 'online';
      case 'repost':
        return peer && this.isOpen(step.who) && client.posted.length > 0;
      case 'ack':
        return peer && this.isOpen(step.who);
      case 'chat':
        // A client that is not connected would send once back, after later steps: only peers
        // POST while away.
        return client.status === 'online' || (peer && client.status === 'offline');
      default:
        return this.isOpen(step.who);
    }
  }

  opened(index: number): void {
    const client = this.client(index);
    client.status = 'online';
    for (const group of client.spec.joins) this.members[this.group(group)]?.add(this.who(index));
    if (client.spec.welcome) this.deliver(index, `welcome:${client.name}`);
  }

  deliver(index: number, text: string): void {
    if (this.isOpen(index)) this.client(index).expected.push(text);
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
  closed(index: number, partial: boolean): void {
    const client = this.client(index);
    client.status = 'closed';
    client.partial = partial;
    for (const members of this.members) members.delete(this.who(index));
  }
}

/** The text of the `i`-th message of step `n`: unique, so a misplaced one is easy to name. */
export function textOf(kind: string, n: number, i: number, group: number | null = null): string {
  return `${kind}${n}.${i}${group === null ? '' : `>g${group}`}`;
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
const count = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 60, max: 140 }) });

const client: fc.Arbitrary<ClientSpec> = fc.record({
  kind: fc.constantFrom<'peer' | 'client'>('peer', 'client'),
  transport,
  joins: fc.subarray([0, 1]),
  welcome: fc.boolean(),
  lazy: fc.boolean(),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('open' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('join' as const, 'leave' as const), who, group }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('broadcast' as const), group, except: fc.option(who, { nil: null }), count }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('send' as const), who, count }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('chat' as const), who, group: fc.option(group, { nil: null }), count }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repost' as const), who }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('cut' as const), who }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('resume' as const), who, transport }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('close' as const, 'goodbye' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('settle' as const) }) },
);

export const scenarios: fc.Arbitrary<Scenario> = fc.record({
  groups: fc.integer({ min: 1, max: 2 }),
  clients: fc.array(client, { minLength: 2, maxLength: 4 }),
  steps: fc.array(step, { maxLength: 24 }),
});
