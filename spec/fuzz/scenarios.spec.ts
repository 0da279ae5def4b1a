// End-to-end scenario fuzzer (issue 10, item 3): random mixes of 2–4 clients (raw protocol
// peers, the client library and plain channels, on WebSocket, SSE and polling) in 1–2 groups
// of a real server, through joins, leaves, broadcasts with and without `except`, direct
// sends, chats, acknowledgements, held polls, cuts, resumes and transport switches, closes
// and goodbyes. Each client must receive exactly what the model says, once and in order (or,
// with small session buffers, lose only what a gap announced); the route must get each client
// message once and in order; the process must see no uncaught exception, no unhandled
// rejection and no `live` error. spec/fuzz/model.ts has the scenario language.
//
// FUZZ_RUNS (default 700, about 20 s here) and FC_SEED (default: the project's fixed seed)
// choose the random scenarios; a failure prints the seed and the shrunk scenario, which
// FUZZ_SCENARIO='<its JSON>' replays alone. Deep runs: FUZZ_RUNS=10000 FUZZ_TIME_LIMIT_MS=0
// node --import tsx --test --test-timeout=0 spec/fuzz/scenarios.spec.ts (FUZZ_STATS=1 tells
// what ran). Every real bug found stays below as a named case.
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { stats } from './checks.js';
import { runScenario } from './driver.js';
import { Faults, recordProcessFaults } from './harness.js';
import { scenarios, type Scenario } from './model.js';

// The project's one fixed seed (spec/support/property.ts), unless FC_SEED asks for another.
const seed = Number.parseInt(process.env['FC_SEED'] ?? '20261201', 10);
const runs = Number(process.env['FUZZ_RUNS'] ?? 700);
// Shrinking replays failing scenarios, each bounded by its waits; stop before the runner's
// per-test timeout (scripts/test.mjs: 120 s) and report the smallest case found by then.
// 0: no limit.
const timeLimit = Number(process.env['FUZZ_TIME_LIMIT_MS'] ?? 100_000);

// Faults land in the running scenario's record; between scenarios, in `stray`.
const stray = new Faults();
let current: Faults | undefined;
let restore = (): void => undefined;
before(() => (restore = recordProcessFaults(() => current ?? stray)));
after(() => {
  restore();
  if (stray.list.length > 0) throw new Error(`faults outside any scenario: ${stray.list.join('\n')}`);
});

async function check(scenario: Scenario, label: string): Promise<void> {
  current = new Faults();
  try {
    await runScenario(scenario, label, current);
  } finally {
    current = undefined;
  }
}

const peer = (transport: 'websocket' | 'sse' | 'poll', rest: Partial<Scenario['clients'][number]> = {}): Scenario['clients'][number] => ({
  kind: 'peer',
  transport,
  joins: [0],
  welcome: false,
  lazy: false,
  ...rest,
});

/** Scenarios that once failed (real server bugs), kept as regression cases. */
const fixed: Record<string, Scenario> = {
  // The reproduction: B's own welcome and a broadcast that left A out made B's poll
  // answer read a log position it did not hold (TypeError in SessionLink.pollAnswer).
  'a held poll answered after a chat broadcast except its sender, to a member that got a message of its own first': {
    buffer: null,
    groups: 1,
    clients: [peer('poll'), peer('poll', { welcome: true, lazy: true })],
    steps: [{ op: 'broadcast', group: 0, except: null, count: 1 }, { op: 'settle' }, { op: 'open', who: 1 }, { op: 'settle' }, { op: 'chat', who: 0, group: 0, count: 1 }],
  },
  // Found by this fuzzer on 3df8e45, the same bug over WebSocket: B's chat (except B) and A's
  // chat while B was away went into a log B's resume could no longer read (TypeError in
  // WebSocketWire.writeShared; a hello announcing a message never delivered).
  'a WebSocket resume after chats that each left one of the two members out': {
    buffer: null,
    groups: 1,
    clients: [peer('websocket'), peer('websocket'), peer('websocket', { joins: [] })],
    steps: [{ op: 'chat', who: 1, group: 0, count: 1 }, { op: 'cut', who: 1 }, { op: 'chat', who: 0, group: 0, count: 1 }],
  },
  // Found on 3df8e45 too: the same, B coming back on SSE (TypeError in the SSE wire's writeShared).
  'an SSE resume of a WebSocket session after chats that each left one of the two members out': {
    buffer: null,
    groups: 1,
    clients: [peer('websocket'), peer('websocket'), peer('websocket', { joins: [] })],
    steps: [{ op: 'chat', who: 1, group: 0, count: 1 }, { op: 'cut', who: 1 }, { op: 'chat', who: 0, group: 0, count: 1 }, { op: 'resume', who: 0, transport: 'sse' }],
  },
};

describe('scenario fuzzer over real transports', () => {
  for (const [name, scenario] of Object.entries(fixed)) it(name, () => check(scenario, `fixed scenario "${name}"`));

  // FUZZ_SCENARIO='{"groups":1,…}' replays one counterexample alone.
  const replay = process.env['FUZZ_SCENARIO'];
  if (replay !== undefined) it('the scenario in FUZZ_SCENARIO', () => check(JSON.parse(replay) as Scenario, 'FUZZ_SCENARIO'));

  it(`${runs} random scenarios (FC_SEED=${seed})`, async (t) => {
    await fc.assert(
      fc.asyncProperty(scenarios, (scenario) => check(scenario, `FC_SEED=${seed}`)),
      { seed, numRuns: runs, ...(timeLimit > 0 ? { interruptAfterTimeLimit: timeLimit } : {}), markInterruptAsFailure: false, includeErrorInReport: true },
    );
    if (process.env['FUZZ_STATS'] !== undefined) t.diagnostic(JSON.stringify(Object.fromEntries([...stats].sort())));
  });
});
