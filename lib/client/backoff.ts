/** Reconnect delays, in milliseconds. */
export interface ReconnectOptions {
  /**
   * Upper bound of the first delay.
   * @defaultValue 250
   */
  minDelay?: number;
  /**
   * No delay is longer than this.
   * @defaultValue 10000
   */
  maxDelay?: number;
  /**
   * Failed reconnect rounds after which the connection closes (code 4000, reason
   * `'reconnect-failed'`). Each round tries every transport once.
   * @defaultValue Infinity
   */
  maxAttempts?: number;
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): a uniformly random delay between 0 and `min(maxDelay, minDelay · 2^attempt)`, so
 * clients cut off together do not come back together.
 * @param attempt - 0 for the first retry after a loss.
 * @param random - a source of numbers in [0, 1): `Math.random` unless a test injects one.
 */
export function backoffDelay(attempt: number, options: Required<ReconnectOptions>, random: () => number): number {
  const ceiling = Math.min(options.maxDelay, options.minDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
