/** The most of `times` (ms) that fall within any `width` ms: a sliding window over the sorted times. */
export function busiestWindow(times: readonly number[], width: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let start = 0, end = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= width) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
