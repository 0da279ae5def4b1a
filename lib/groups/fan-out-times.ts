/**
 * Upper bounds of the fan-out time buckets, in seconds: 10 µs (a broadcast to a handful of
 * members) to 1 s (a loop that blocks the event loop badly).
 */
export const fanOutBuckets: readonly number[] = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * How long the delivery loops of broadcasts took, as histogram buckets kept here and read
 * at scrape time. Recording is a short scan of 16 bounds and two additions: it runs once
 * per broadcast, never once per member, and only when metrics asked for it.
 */
export class FanOutTimes {
  /** Count of recordings per bucket (not cumulative); the last one is above every bound. */
  readonly counts: number[] = new Array<number>(fanOutBuckets.length + 1).fill(0);
  /** Sum of every recording, in seconds. */
  sum = 0;
  count = 0;

  /** Records one delivery that took `nanoseconds`. */
  record(nanoseconds: bigint): void {
    const seconds = Number(nanoseconds) / 1e9;
    let bucket = 0;
    while (bucket < fanOutBuckets.length && seconds > (fanOutBuckets[bucket] as number)) bucket++;
    this.counts[bucket] = (this.counts[bucket] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}
