// Compares what one client received with what the model says the server sent it. Exact when
// no gap was possible; otherwise (a scenario with small session buffers) every message must
// still arrive once and in order, and each one missing must lie in a gap the server announced
// (docs/sessions.md: "an explicit gap, never a silent partial replay").

/** What a client saw, as its wrapper reports it. */
export interface Seen {
  /** Message data in arrival order. */
  texts: readonly string[];
  /** The sequence number each message came with, when the client exposes it. */
  seqs?: readonly number[];
  /** Gaps announced ([first, last], inclusive). */
  gaps: ReadonlyArray<readonly [number, number]>;
  /** What the raw peer flagged ('duplicate seq 4', 'seq 9 after 3', …) and failed connects. */
  flags: readonly string[];
}

export interface Expectation {
  /** What the server sent, in order: message `i` has sequence number `i + 1`. */
  expected: readonly string[];
  /** Whether the whole of `expected` must have arrived (not only a prefix: the client left). */
  complete: boolean;
  /** Whether the session's buffer bounds could have let go of unacknowledged messages. */
  gapPossible: boolean;
}

/** The deviations of `seen` from `expectation`; empty when the client got what it should. */
export function deviations(seen: Seen, { expected, complete, gapPossible }: Expectation): string[] {
  const out: string[] = [];
  const seqOf = new Map(expected.map((text, i) => [text, i + 1]));
  const gaps = seen.gaps.map(([first, last]) => ({ first, last }));
  const inGap = (seq: number): boolean => gaps.some((g) => g.first <= seq && seq <= g.last);
  if (!gapPossible && gaps.length > 0) out.push(`gaps ${JSON.stringify(seen.gaps)} although the buffer held everything unacknowledged`);
  let last = 0;
  seen.texts.forEach((text, i) => {
    const seq = seqOf.get(text);
    if (seq === undefined) return void out.push(`message ${abbreviated(text)} was never sent to it`);
    if (seq <= last) out.push(`message ${abbreviated(text)} (seq ${seq}) again or out of order after seq ${last}`);
    if (seen.seqs !== undefined && seen.seqs[i] !== seq) out.push(`message ${abbreviated(text)} is seq ${seq} but came numbered ${seen.seqs[i]}`);
    if (inGap(seq)) out.push(`message seq ${seq} was announced as lost and delivered`);
    for (let missing = last + 1; missing < seq; missing++) if (!inGap(missing)) out.push(`seq ${missing} (${abbreviated(expected[missing - 1])}) lost without a gap`);
    last = Math.max(last, seq);
  });
  if (complete) for (let missing = last + 1; missing <= expected.length; missing++) if (!inGap(missing)) out.push(`seq ${missing} (${abbreviated(expected[missing - 1])}) never arrived`);
  for (const flag of seen.flags) if (!explained(flag, inGap)) out.push(flag);
  return out;
}

/** A jump the raw peer flagged is no fault when an announced gap covers what it skipped. */
function explained(flag: string, inGap: (seq: number) => boolean): boolean {
  if (/^gap \d+-\d+$/.test(flag)) return true;
  const jump = /^(?:seq|hello\.next) (\d+) after (\d+)$/.exec(flag);
  if (jump === null) return false;
  const [to, from] = [Number(jump[1]), Number(jump[2])];
  for (let seq = from + 1; seq < to; seq++) if (!inGap(seq)) return false;
  return to > from;
}

/** The gaps a raw peer flagged ('gap 3-7'). */
export function gapsIn(flags: readonly string[]): Array<[number, number]> {
  return flags.flatMap((flag) => {
    const match = /^gap (\d+)-(\d+)$/.exec(flag);
    return match === null ? [] : [[Number(match[1]), Number(match[2])] as [number, number]];
  });
}

/** JSON of `value` with long (padded) messages cut short, for failure messages. */
export function abbreviated(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' && v.length > 40 ? `${v.slice(0, 12)}…(${v.length} chars)…${v.slice(-6)}` : v));
}
