// A graceful drain's pacing (live.drain): the open channels are let go evenly over a period,
// in a random order, so that their clients come back to the other processes gradually.

// How often the channels that are due are let go.
const tick = 20;

/** Calls `action` on each of `items` in a random order, spread evenly over `within` ms; resolves after the last. */
export function spread<T>(items: readonly T[], within: number, action: (item: T) => void): Promise<void> {
  const order = shuffled(items);
  if (order.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const started = performance.now();
    let next = 0;
    // A tick that came late (a busy event loop) catches up by at most one item more than its
    // share: the spread matters more than finishing on the dot.
    const share = Math.ceil((order.length * tick) / Math.max(within, tick)) + 1;
    const due = (): void => {
      const upTo = Math.floor(((performance.now() - started) / Math.max(within, 1)) * order.length) + 1;
      const until = Math.min(upTo, order.length, next + share);
      for (; next < until; next++) action(order[next] as T);
      if (next < order.length) return;
      clearInterval(timer);
      resolve();
    };
    const timer = setInterval(due, tick);
    due();
  });
}

// No group of clients always goes first.
function shuffled<T>(items: readonly T[]): T[] {
  const order = [...items];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j] as T, order[i] as T];
  }
  return order;
}

/** Resolves after `ms`, or with `promise` if it settles first; the timer never holds the process. */
export function waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([promise, elapsed]).finally(() => clearTimeout(timer));
}
