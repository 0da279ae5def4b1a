// Which tab leads: the one holding a Web Lock named after the channel's URL. The browser
// grants it to one tab of the origin at a time, queues the others, and releases it when the
// holder's page goes (closed, crashed, navigated away), whatever the page managed to say.

/** The part of `navigator.locks` the election uses. */
interface LockManagerLike {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<void>;
}

/** Tab sharing needs Web Locks and BroadcastChannel; undefined where either is missing. */
export function lockManager(): LockManagerLike | undefined {
  const g = globalThis as { navigator?: { locks?: LockManagerLike }; BroadcastChannel?: unknown };
  return g.BroadcastChannel === undefined ? undefined : g.navigator?.locks;
}

/**
 * Waits for the lock `name`; `lead` runs once it is this tab's. The lock is held until
 * `stop()` (or the page goes); `stop()` before then withdraws from the queue.
 */
export function elect(locks: LockManagerLike, name: string, lead: () => void): { stop(): void } {
  const withdraw = new AbortController();
  let release: (() => void) | undefined;
  locks
    .request(name, { signal: withdraw.signal }, () => new Promise<void>((resolve) => {
      release = resolve;
      lead();
    }))
    .catch(() => undefined); // withdrawn (AbortError): nothing to do
  return {
    stop() {
      if (release === undefined) withdraw.abort();
      else release();
    },
  };
}
