/**
 * A `Retry-After` value (whole seconds, at least 1, as HTTP has it) for a hint in ms. The
 * client library reads it, or the `retryAfter` of a JSON refusal, and waits that long.
 */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
