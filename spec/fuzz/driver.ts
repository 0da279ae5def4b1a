// Runs one scenario against a real server and real clients, step by step, keeping the model
// in lockstep: the server side is driven directly (group.add, broadcast, ch.send, ch.close);
// the clients through their own connections. Every wait is for an observable condition and
// bounded; checks.ts judges what arrived at each `settle` and at the end.
import assert from 'node:assert/strict';
import { LibClient, PeerClient, PlainClient, type FuzzClient } from './clients.js';
import { Pulse, startServer, type Faults, type FuzzServer } from './harness.js';
import { finish, settle, tally } from './checks.js';
import { Model, textOf, transportsOf, type Scenario, type Step, type Transport } from './model.js';

export class Run {
  readonly clients = new Map<string, FuzzClient>();
  // Library clients reconnecting after a cut, by name: broadcasts and sends go on meanwhile
  // (the session buffers them); a step that needs the connection waits for it first.
  readonly #reopening = new Map<string, Promise<void>>();
  /** The step running, for failure messages. */
  where = 'opening';

  constructor(
    readonly model: Model,
    readonly server: FuzzServer,
    readonly faults: Faults,
    readonly pulse: Pulse,
    readonly label: string,
  ) {}

  /** Waits for `promise`, bounded; a failure names the seed, the step and what it waited for. */
  wait<T>(promise: Promise<T>, what: string): Promise<T> {
    return this.faults.within(promise, () => this.say(`waiting for ${what}`));
  }

  /** A failure message: the seed (or fixed case), the step, then `what`. */
  say(what: string): string {
    return `${this.label}, ${this.where}: ${what}`;
  }

  until(condition: () => boolean, what: string): Promise<void> {
    return this.wait(this.pulse.until(condition), what);
  }

  async start(): Promise<void> {
    for (const [i, state] of this.model.clients.entries()) if (!state.spec.lazy) await this.open(i);
  }

  async step(n: number, step: Step): Promise<void> {
    this.where = `step ${n} ${JSON.stringify(step)}`;
    if (step.op === 'settle') return settle(this, false);
    if (step.op === 'broadcast') return this.broadcast(n, step, step.pad ?? 0);
    const who = this.model.target(step);
    if (who === undefined) return tally(`skipped ${step.op}`);
    this.where += ` on ${this.model.client(who).name}`;
    if (['cut', 'switch', 'close', 'goodbye'].includes(step.op)) await this.reopened(who);
    tally(step.op === 'resume' || step.op === 'cut' ? `${step.op} ${this.model.client(who).spec.kind} ${this.model.client(who).transport}` : step.op);
    switch (step.op) {
      case 'open':
        return this.open(who);
      case 'join':
      case 'leave':
        return this.membership(who, step.group, step.op);
      case 'send':
        return this.send(n, who, step.count, step.pad ?? 0);
      case 'chat':
        return this.chat(n, who, step.group, step.count);
      case 'repost':
        return this.repost(who);
      case 'ack':
        return this.ack(who);
      case 'cut':
        return this.cut(who);
      case 'resume':
        return this.resume(who, step.transport);
      case 'switch':
        return this.switch(who);
      case 'close':
        return this.close(who);
      case 'goodbye':
        return this.goodbye(who);
    }
  }

  channel(who: number) {
    const ch = this.server.channels.get(this.model.client(who).name);
    assert.ok(ch, `${this.label}: no channel for ${this.model.client(who).name}`);
    return ch;
  }

  client(who: number): FuzzClient {
    return this.clients.get(this.model.client(who).name) as FuzzClient;
  }

  peer(who: number): PeerClient {
    return this.client(who) as PeerClient;
  }

  async open(who: number): Promise<void> {
    const state = this.model.client(who);
    const url = this.server.url(state.name);
    if (state.spec.kind === 'peer') {
      const peer = new PeerClient(state.name, url);
      this.clients.set(state.name, peer);
      await this.wait(peer.connect(state.transport), `${state.name}'s hello on ${state.transport}`);
    } else if (state.spec.kind === 'plain') {
      const plain = new PlainClient(state.name, url, this.pulse);
      this.clients.set(state.name, plain);
      await this.wait(plain.open(state.transport), `${state.name}'s plain ${state.transport} to open`);
    } else {
      const client = new LibClient(state.name, url, transportsOf(state.spec), this.pulse);
      this.clients.set(state.name, client);
      await this.until(() => client.opens > 0, `${state.name} to open on ${state.transport}`);
    }
    this.model.opened(who);
  }

  membership(who: number, group: number, op: 'join' | 'leave'): void {
    const real = this.server.groups[this.model.group(group)];
    assert.ok(real);
    if (op === 'join') real.add(this.channel(who));
    else real.delete(this.channel(who));
    this.model[op](who, group);
    assert.equal(real.size, this.model.members[this.model.group(group)]?.size, this.say('group size'));
  }

  broadcast(n: number, { group, except, count }: { group: number; except: number | null; count: number }, pad: number): void {
    const real = this.server.groups[this.model.group(group)];
    const skip = except === null ? undefined : this.server.channels.get(this.model.client(except).name);
    for (let i = 0; i < count; i++) {
      const text = textOf('b', n, i, null, pad);
      real?.broadcast(text, skip === undefined ? undefined : { except: skip });
      this.model.broadcast(group, skip === undefined ? null : except, text);
    }
  }

  send(n: number, who: number, count: number, pad: number): void {
    const open = this.model.isOpen(who);
    for (let i = 0; i < count; i++) {
      const text = textOf('s', n, i, null, pad);
      assert.equal(this.channel(who).send(text), open, this.say(`send() to a channel the model has ${open ? 'open' : 'closed'}`));
      this.model.deliver(who, text);
    }
  }

  /** The client sends; the route records each message and broadcasts a chat one on arrival. */
  async chat(n: number, who: number, group: number | null, count: number): Promise<void> {
    const state = this.model.client(who);
    const texts = Array.from({ length: count }, (_, i) => textOf(state.name, n, i, group === null ? null : this.model.group(group)));
    const client = this.client(who);
    if (client instanceof PeerClient) this.model.acknowledged(who, await this.wait(client.post(texts), `${state.name}'s POST`));
    else for (const text of texts) client.send(text);
    const target = state.posted.length + count;
    await this.until(() => (this.server.received.get(state.name)?.length ?? 0) >= target, `the route to receive ${target} messages from ${state.name}`);
    for (const text of texts) this.model.posted(who, text, group);
  }

  async ack(who: number): Promise<void> {
    this.model.acknowledged(who, await this.wait(this.peer(who).ack(), `${this.model.client(who).name}'s acknowledgement`));
  }

  async repost(who: number): Promise<void> {
    const state = this.model.client(who);
    await this.wait(this.peer(who).repost(), `${state.name}'s repeated POST`);
    assert.deepEqual(this.server.received.get(state.name), state.posted, this.say('a repeated POST was delivered again'));
  }

  async cut(who: number): Promise<void> {
    const state = this.model.client(who);
    const client = this.client(who);
    if (client instanceof PeerClient) {
      await this.wait(client.cut(), `${state.name}'s cut connection to end`);
      state.status = 'offline';
      return;
    }
    // A plain channel ends with its connection: wait for that, so later sends return false.
    if (client instanceof PlainClient) {
      client.cut();
      await this.until(() => this.server.closeReasons.has(state.name), `${state.name}'s plain channel to close after its cut`);
      return this.model.closed(who, 'client', true);
    }
    // The library reconnects by itself. A polling client between two polls has nothing to cut.
    const opens = client.opens;
    if (this.server.cut(state.name) === 0) return;
    const reopened = this.until(() => client.opens > opens, `${state.name} to reopen after a cut`);
    reopened.catch(() => undefined); // awaited by reopened()
    this.#reopening.set(state.name, reopened);
  }

  /** Waits until the library client `who` is connected again after a cut, if it was cut. */
  async reopened(who: number): Promise<void> {
    const name = this.model.client(who).name;
    const reopened = this.#reopening.get(name);
    this.#reopening.delete(name);
    await reopened;
  }

  async resume(who: number, transport: Transport): Promise<void> {
    const state = this.model.client(who);
    const seen = this.server.seen(state.name, transport);
    const hello = this.peer(who).connect(transport);
    // A resuming poll is held while nothing waits: wait for the server to have it instead.
    if (transport === 'poll') await this.until(() => this.server.seen(state.name, 'poll') > seen, `the server to get ${state.name}'s resuming poll`);
    else await this.wait(hello, `${state.name}'s hello on ${transport}`);
    state.status = 'online';
    state.transport = transport;
  }

  /** The server refuses the library client's transport until it came back on the next one. */
  async switch(who: number): Promise<void> {
    const state = this.model.client(who);
    const client = this.client(who) as LibClient;
    const next = transportsOf(state.spec).find((t) => t !== state.transport) as Transport;
    const opens = client.opens;
    const polls = this.server.seen(state.name, 'poll');
    this.server.refused.set(state.name, state.transport);
    this.server.cut(state.name);
    try {
      await this.until(() => client.opens > opens && client.conn.transport === next, `${state.name} to leave ${state.transport} for ${next}`);
    } finally {
      this.server.refused.delete(state.name);
    }
    // Polling opens with an empty POST, which leaves the session on its old transport: a
    // close before its first poll arrives would find no polling session to keep the answer for.
    if (next === 'poll') await this.until(() => this.server.seen(state.name, 'poll') > polls, `the first poll of ${state.name} after its switch`);
    state.transport = next;
  }

  close(who: number): void {
    const state = this.model.client(who);
    assert.equal(this.channel(who).close(), true, this.say('close() of an open channel'));
    // Away on WebSocket or SSE, the session is gone with what it still owed; a polling one
    // keeps its last answer for its next poll (docs/sessions.md).
    this.model.closed(who, 'server', state.status === 'offline' && state.transport !== 'poll');
  }

  async goodbye(who: number): Promise<void> {
    const state = this.model.client(who);
    const client = this.client(who);
    if (client instanceof PeerClient) await this.wait(client.goodbye(), `${state.name}'s DELETE`);
    else client.goodbye();
    await this.until(() => this.server.closeReasons.has(state.name), `${state.name}'s channel to close after its goodbye`);
    this.model.closed(who, 'client', true);
  }

  /** Stops every client and the server, bounded even when a fault left the server wedged. */
  async teardown(): Promise<void> {
    for (const client of this.clients.values()) client.stop();
    await this.server.close();
  }
}

/** Runs `scenario`; throws (naming `label`, the step and the expectation) on the first deviation. */
export async function runScenario(scenario: Scenario, label: string, faults: Faults): Promise<void> {
  const pulse = new Pulse();
  const model = new Model(scenario);
  const server = await startServer(scenario, faults, pulse);
  const run = new Run(model, server, faults, pulse, label);
  try {
    await run.start();
    for (const [n, step] of scenario.steps.entries()) await run.step(n, step);
    await finish(run);
  } finally {
    await run.teardown();
  }
  assert.deepEqual(faults.list, [], `${label}: the process saw faults`);
}
