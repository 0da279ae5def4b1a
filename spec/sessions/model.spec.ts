// The model-based test of session buffering: random mixes of broadcasts (with and without
// `except`), direct sends, acknowledgements, joins, leaves, trim passes and closes, driven
// through the real ChannelGroup, Channel and session classes of a real server, and checked
// against the simplest buffer that could be right: a per-session array (ModelBuffer).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { coreOf } from '../../lib/channel/channel.js';
import { logOf } from '../../lib/groups/group.js';
import type { Channel, ChannelGroup } from '../../lib/index.js';
import { startLiveServer, type LiveServer } from '../support/live-server.js';
import { runs } from '../support/property.js';
import { withTimeout } from '../support/harness.js';

type Step =
  | { kind: 'broadcast'; group: number; except: number }
  | { kind: 'send'; to: number; size: number }
  | { kind: 'ack'; who: number; back: number }
  | { kind: 'membership'; who: number; group: number }
  | { kind: 'trim'; group: number }
  | { kind: 'close'; who: number };

interface Limits {
  messages: number;
  bytes: number;
}

const sessionCount = 3;

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('broadcast' as const), group: fc.integer({ min: 0, max: 1 }), except: fc.integer({ min: -1, max: 2 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('send' as const), to: fc.integer({ min: 0, max: 2 }), size: fc.integer({ min: 0, max: 40 }) }) },
  // Mostly everything so far: a session that holds nothing is where logs are let go.
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('ack' as const), who: fc.integer({ min: 0, max: 2 }), back: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 8 })) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('membership' as const), who: fc.integer({ min: 0, max: 2 }), group: fc.integer({ min: 0, max: 1 }) }) },
  // A trim pass now rather than every 64 appends: sessions far behind get copies.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trim' as const), group: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), who: fc.integer({ min: 0, max: 2 }) }) },
);

describe('session buffering (model-based, through the real classes)', () => {
  it('replays exactly what a per-session array would, whatever the mix of groups, sends, acknowledgements, bounds and closes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ messages: fc.integer({ min: 1, max: 6 }), bytes: fc.integer({ min: 1, max: 200 }) }),
        fc.array(step, { minLength: 20, maxLength: 300, size: 'max' }),
        runScenario,
      ),
      runs(300),
    );
  });

  // Counterexamples found so far, kept as they were found.
  it('keeps a broadcast for a member whose only fellow reader of the log was left out of it (issue 10)', async () => {
    // 0 and 1 get a broadcast; 1 gets a send of its own and acknowledges everything, so it
    // holds nothing in the group's log; 0 acknowledges too; then 0 is left out of the next one.
    await runScenario({ messages: 6, bytes: 200 }, [
      { kind: 'broadcast', group: 0, except: -1 },
      { kind: 'send', to: 1, size: 0 },
      { kind: 'ack', who: 1, back: 0 },
      { kind: 'ack', who: 0, back: 0 },
      { kind: 'broadcast', group: 0, except: 0 },
    ]);
  });
});

/** Opens three polling sessions on a fresh server, plays `steps`, and checks every replay. */
async function runScenario(limits: Limits, steps: readonly Step[]): Promise<void> {
  const opened = new Map<string, Channel>();
  const server = await startLiveServer({ heartbeat: 0, sessionTimeout: 60_000, sessionBuffer: limits }, (app) => {
    app.get('/live', (req) => {
      const ch = req.channel!;
      ch.onClose(() => {});
      opened.set(String(req.query.who), ch);
    });
  });
  try {
    const sessions: Channel[] = [];
    for (let who = 0; who < sessionCount; who++) sessions.push(await openPollSession(server, opened, who));
    const groups = [server.live.group('g0'), server.live.group('g1')];
    const scenario = new Scenario(sessions, groups, limits);
    steps.forEach((s, i) => scenario.play(s, i));
    scenario.checkEveryReplay();
    for (let who = 0; who < sessionCount; who++) await scenario.checkPollAnswer(server, who);
  } finally {
    await server.close();
  }
}

async function openPollSession(server: LiveServer, opened: Map<string, Channel>, who: number): Promise<Channel> {
  const res = await withTimeout(fetch(server.url(`/live?ecs=new&ect=poll&who=${who}`)), 5000, 'opening a poll session');
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return opened.get(String(who))!;
}

/** The real channels and groups of one run, beside their model. */
class Scenario {
  readonly #models: ModelBuffer[];
  readonly #member = [
    [true, true, false],
    [false, true, true],
  ];
  readonly #closed = [false, false, false];
  #n = 0;

  constructor(
    readonly sessions: readonly Channel[],
    readonly groups: readonly ChannelGroup[],
    limits: Limits,
  ) {
    this.#models = sessions.map(() => new ModelBuffer(limits));
    this.#member.forEach((row, g) => row.forEach((isMember, who) => isMember && groups[g]!.add(sessions[who]!)));
  }

  play(s: Step, index: number): void {
    if (s.kind === 'broadcast') this.#broadcast(s.group, s.except);
    else if (s.kind === 'send') this.#send(s.to, `own${s.to}-${this.#n++}-${'x'.repeat(s.size)}`);
    else if (s.kind === 'ack') this.#acknowledge(s.who, Math.max(0, this.#models[s.who]!.next - 1 - s.back));
    else if (s.kind === 'membership') this.#toggle(s.who, s.group);
    else if (s.kind === 'trim') logOf(this.groups[s.group]!).trim();
    else this.#close(s.who);
    // Checked after every step, not only at the end: a message lost now may be acknowledged
    // or pushed out by the bounds before the end, and the loss would go unseen.
    for (let who = 0; who < sessionCount; who++) {
      const after = `after step ${index} (${JSON.stringify(s)})`;
      assert.equal(coreOf(this.sessions[who]!).session!.nextSeq, this.#models[who]!.next, `session ${who}'s next number ${after}`);
      assert.deepEqual(this.#replay(who, 0), this.#models[who]!.since(0), `session ${who}'s whole replay ${after}`);
    }
  }

  #replay(who: number, ack: number) {
    const replay = coreOf(this.sessions[who]!).session!.since(ack);
    return { next: replay.next, gap: replay.gap, messages: replay.messages.map((m) => m?.payload) };
  }

  /** What each session would replay after every acknowledgement it could make. */
  checkEveryReplay(): void {
    for (let who = 0; who < sessionCount; who++) {
      const next = coreOf(this.sessions[who]!).session!.nextSeq;
      for (let ack = 0; ack < next; ack++) assert.deepEqual(this.#replay(who, ack), this.#models[who]!.since(ack), `session ${who} resuming after ${ack}`);
    }
  }

  /** A real poll acknowledging nothing gets what the model holds (a closed one, and why). */
  async checkPollAnswer(server: LiveServer, who: number): Promise<void> {
    const expected = this.#models[who]!.since(0);
    if (expected.messages.length === 0 && expected.gap === undefined && !this.#closed[who]) return; // it would wait
    const headers = { 'ec-secret': coreOf(this.sessions[who]!).session!.secret };
    const res = await withTimeout(fetch(server.url(`/live?ecs=${this.sessions[who]!.id}&ect=poll&eca=0`), { headers }), 5000, `session ${who}'s poll`);
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { next: number; gap?: [number, number]; messages: string[]; closed?: string };
    assert.deepEqual({ next: answer.next, gap: answer.gap, messages: answer.messages }, expected, `session ${who}'s poll answer`);
    assert.equal(answer.closed, this.#closed[who] ? 'server-close' : undefined);
  }

  #broadcast(group: number, except: number): void {
    const text = `g${group}-${this.#n++}`;
    const exceptChannel = except >= 0 ? this.sessions[except] : undefined;
    this.groups[group]!.broadcast(text, exceptChannel === undefined ? {} : { except: exceptChannel });
    this.#member[group]!.forEach((isMember, who) => {
      if (isMember && who !== except) this.#models[who]!.append(text);
    });
  }

  #send(to: number, text: string): void {
    assert.equal(this.sessions[to]!.send(text), !this.#closed[to]);
    if (!this.#closed[to]) this.#models[to]!.append(text);
  }

  // What a client's acknowledgement does on any transport: the wire reports it to the channel.
  #acknowledge(who: number, seq: number): void {
    if (this.#closed[who]) return;
    coreOf(this.sessions[who]!).control({ type: 'ack', seq });
    this.#models[who]!.acknowledge(seq);
  }

  #toggle(who: number, group: number): void {
    if (this.#closed[who]) return;
    const row = this.#member[group]!;
    if (row[who] === true) this.groups[group]!.delete(this.sessions[who]!);
    else this.groups[group]!.add(this.sessions[who]!);
    row[who] = !row[who];
  }

  #close(who: number): void {
    assert.equal(this.sessions[who]!.close(), !this.#closed[who]);
    this.#closed[who] = true;
    for (const row of this.#member) row[who] = false;
  }
}

/** The per-session ring the logs replaced, as a plain array: what each session must replay. */
class ModelBuffer {
  #held: { seq: number; text: string }[] = [];
  #next = 1;
  #first = 1;
  constructor(private readonly limits: Limits) {}

  get next(): number {
    return this.#next;
  }

  append(text: string): number {
    const seq = this.#next++;
    this.#held.push({ seq, text });
    while (this.#held.length > this.limits.messages || (this.#bytes() > this.limits.bytes && this.#held.length > 1)) this.#dropOldest();
    return seq;
  }

  acknowledge(seq: number): void {
    while (this.#held.length > 0 && this.#held[0]!.seq <= seq) this.#dropOldest();
  }

  since(seq: number): { next: number; gap: [number, number] | undefined; messages: string[] } {
    const from = seq + 1;
    return {
      next: Math.max(from, this.#first),
      gap: from < this.#first ? [from, this.#first - 1] : undefined,
      messages: this.#held.filter((m) => m.seq >= from).map((m) => m.text),
    };
  }

  #dropOldest(): void {
    this.#held.shift();
    this.#first++;
  }

  #bytes(): number {
    return this.#held.reduce((sum, m) => sum + Buffer.byteLength(m.text), 0);
  }
}
