// Option names checked, so that a misspelt one throws instead of being ignored: the options of
// channels(), send() and broadcast(). (The browser client has its own, smaller check: its
// bundle has a size budget.)
import { invalidArgument } from '../errors.js';

/**
 * Throws for an option name `where` does not know: a misspelt `hearbeat` or `evnet` would
 * otherwise be ignored, and the default used without a word. The message names the option
 * meant when one is near, and lists them all when none is.
 */
export function assertKnownOptions(where: string, options: object, known: readonly string[]): void {
  const unknown = unknownKey(options, known);
  if (unknown === undefined) return;
  const meant = nearestName(unknown, known);
  const hint = meant === undefined ? `its options are ${known.join(', ')}` : `did you mean ${JSON.stringify(meant)}?`;
  throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `${where} has no option ${JSON.stringify(unknown)}; ${hint}`);
}

/** The first own key of `object` that is not in `known`, if any. */
export function unknownKey(object: object, known: readonly string[]): string | undefined {
  for (const key in object) {
    if (Object.hasOwn(object, key) && !known.includes(key)) return key;
  }
  return undefined;
}

/**
 * The name in `known` nearest to `name` (edit distance, case ignored), when one is near
 * enough to be what was meant: a typo or two, a few more in longer names.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, name.length >> 2) + 1;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

// Levenshtein distance, one row at a time.
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
