/** How long the helpers wait for something that should happen at once, unless told. */
export const defaultTimeout = 5000;

/**
 * Resolves as `promise` does, or rejects after `ms` with an error that says what was awaited:
 * a test waits for events, never forever, and a failure names what did not happen.
 * @param promise - what to wait for.
 * @param ms - how long to wait, in milliseconds.
 * @param what - what is awaited, for the error: `'the 101 of ws://127.0.0.1:4000/echo'`.
 * @example
 * ```ts
 * const closed = new Promise((resolve) => ch.onClose(resolve));
 * assert.equal(await within(closed, 2000, 'the channel to close'), 'client-close');
 * ```
 */
export function within<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
