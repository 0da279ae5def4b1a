// What a process hears of broadcasts while one of its takeovers waits for the old owner's
// answer (docs/scaling.md, "Takeover"). Pub/sub hands every process the same broadcasts in
// the same order, and the owner's inbox shares its connection with them: whatever the owner
// had not delivered when it read the request reaches this process after the recording began.
// The owner's high-water marks tell which of the recorded ones the session already has.
// In streams mode (streams.ts) readers are not in step, so what the groups' streams hold past
// the old owner's positions is read from Redis and goes first (caughtUp): a broadcast both
// read there and heard here is kept once, by its publisher's number.
import type { AdapterMessage } from '../groups/adapter.js';
import type { LateBroadcast, SessionState } from '../sessions/directory.js';

interface Heard {
  seq: number;
  message: AdapterMessage;
}

export class Recording {
  readonly #heard: Heard[] = [];
  #before: readonly Heard[] = [];

  /** A broadcast numbered `seq` by its publisher, from another process or this one. */
  heard(message: AdapterMessage, seq: number): void {
    this.#heard.push({ seq, message });
  }

  /** Streams mode: the entries of the session's groups past the old owner's positions, in stream order. */
  caughtUp(entries: readonly Heard[]): void {
    this.#before = entries;
  }

  /**
   * The broadcasts of `state`'s groups past its high-water marks, in the order heard (a jump
   * in a publisher's numbers, a subscriber that reconnected meanwhile, is a lost place), and
   * the marks the session stands at after them.
   */
  late(state: SessionState): { late: LateBroadcast[]; marks: SessionState['highWater'] } {
    const groups = new Set(state.groups);
    // Per group, per publisher: the last number the session has, the old owner's to begin with.
    const marks: SessionState['highWater'] = {};
    for (const group of groups) marks[group] = { ...state.highWater[group] };
    const late: LateBroadcast[] = [];
    for (const { seq, message } of [...this.#before, ...this.#heard]) {
      const { group, origin } = message;
      const mine = marks[group];
      if (mine === undefined) continue;
      const before = mine[origin];
      if (before !== undefined && seq <= before) continue; // the session had it from the old owner
      if (before !== undefined && seq > before + 1) late.push({ group, lost: seq - before - 1 });
      mine[origin] = seq;
      late.push({ group, payload: message.payload, fields: message.fields });
    }
    return { late, marks };
  }
}
