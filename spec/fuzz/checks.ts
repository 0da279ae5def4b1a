// The fuzzer's verdicts: at a quiescent point (a `settle` step) and at the end of a scenario,
// what every client received against the model (through the oracle), what the route received
// against what each client sent, and at the end how each channel closed.
import assert from 'node:assert/strict';
import { LibClient, PeerClient, type FuzzClient } from './clients.js';
import type { Run } from './driver.js';
import type { ClientState } from './model.js';
import { abbreviated, deviations } from './oracle.js';

/** What the scenarios of this process did, for FUZZ_STATS: applied steps by op, messages checked. */
export const stats = new Map<string, number>();

export function tally(key: string, n = 1): void {
  stats.set(key, (stats.get(key) ?? 0) + n);
}

/** Everything sent so far has arrived, exactly once and in order; held polls are in place. */
export async function settle(run: Run, final: boolean): Promise<void> {
  for (const i of run.model.clients.keys()) await run.reopened(i);
  for (const state of run.model.clients) {
    const client = run.clients.get(state.name);
    if (client === undefined) continue;
    assert.deepEqual(run.server.received.get(state.name) ?? [], state.posted, run.say(`what the route received from ${state.name}`));
    // A client that left, or was closed while away on WebSocket or SSE, has a prefix.
    const complete = state.status === 'online' || (final && !state.partial);
    if (!complete && !final) continue;
    if (complete) await arrived(run, state, client);
    const seen = client.seen();
    if (final) tally('messages checked', seen.texts.length);
    if (final && seen.gaps.length > 0) tally('clients that saw a gap');
    const problems = deviations(seen, { expected: state.expected, complete, gapPossible: state.gapPossible });
    const detail = `received ${abbreviated({ ...seen })}\nexpected ${abbreviated(state.expected)}`;
    assert.deepEqual(problems, [], run.say(`what ${state.name} received (${state.transport}) deviates from what was sent:\n${detail}`));
    if (state.status === 'online' && state.transport === 'poll') await run.until(() => run.server.active(state.name, 'poll') > 0, `a held poll of ${state.name}`);
  }
}

/** Waits for the last message sent to arrive (the newest are always kept, gap or not). */
function arrived(run: Run, state: ClientState, client: FuzzClient): Promise<void> {
  const last = state.expected.length;
  const what = `${state.name} to receive message ${last} on ${state.transport} (has ${client.messages.length}, up to ${client.lastSeq})`;
  if (client instanceof PeerClient) return run.wait(client.untilSeq(last), what);
  return run.until(() => client.lastSeq >= last, what);
}

/** Offline peers come back; then everything must have arrived and each close be told. */
export async function finish(run: Run): Promise<void> {
  run.where = 'the end';
  for (const [i, state] of run.model.clients.entries()) {
    if (state.status === 'offline') await run.resume(i, state.transport);
    // Closed while away after polling: its next poll gets what it missed and the reason.
    else if (state.closedAway && !state.partial) void run.peer(i).connect('poll');
  }
  await settle(run, true);
  for (const state of run.model.clients) await checkClose(run, state);
}

/** The route heard each close once, with its reason; a library client heard the server's. */
async function checkClose(run: Run, state: ClientState): Promise<void> {
  const name = state.name;
  if (state.closedBy === undefined) return assert.equal(run.server.closeReasons.get(name), undefined, run.say(`${name}'s channel closed`));
  // onClose runs once the connection is done with (a WebSocket's close handshake, say).
  await run.until(() => run.server.closeReasons.has(name), `onClose of ${name}'s channel`);
  const reason = run.server.closeReasons.get(name);
  if (state.closedBy === 'client') return assert.notEqual(reason, 'server-close', run.say(`${name}'s close reason`));
  assert.equal(reason, 'server-close', run.say(`${name}'s close reason`));
  const client = run.clients.get(name);
  if (!(client instanceof LibClient)) return;
  await run.until(() => client.closeEvent !== undefined, `${name} to hear that the server closed its session`);
  assert.equal(client.closeEvent?.sessionGone, true, run.say(`${name}'s close event`));
}
