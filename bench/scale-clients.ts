// The load generator of bench/scale.ts: opens express-channel client connections (the client
// library, as an app would) in batches, and reports when each broadcast reached them all.
import { connect, type Connection, type TransportName } from '../lib/client/node.js';

const base = process.argv[2] as string;
const reply = (message: Record<string, unknown>): void => void process.send?.(message);
const connections: Connection[] = [];
// sentAt → arrival times (ms since the epoch) of that broadcast, one per connection.
const arrivals = new Map<string, number[]>();
const waiters = new Map<string, () => void>();

function open(transport: TransportName): Promise<boolean> {
  const conn = connect(`${base}/live`, { transports: [transport], openTimeout: 60_000 });
  connections.push(conn);
  conn.addEventListener('message', (event) => {
    const key = String(event.data);
    const list = arrivals.get(key) ?? [];
    list.push(performance.timeOrigin + performance.now());
    arrivals.set(key, list);
    if (list.length === connections.length) waiters.get(key)?.();
  });
  return new Promise((resolve) => {
    conn.addEventListener('open', () => resolve(true), { once: true });
    conn.addEventListener('close', () => resolve(false), { once: true });
  });
}

async function openMany(transport: TransportName, count: number): Promise<number> {
  let failed = 0;
  for (let done = 0; done < count; ) {
    const batch = Math.min(200, count - done);
    const results = await Promise.all(Array.from({ length: batch }, () => open(transport)));
    failed += results.filter((ok) => !ok).length;
    done += batch;
  }
  return failed;
}

function reached(key: string, timeoutMs: number): Promise<number[]> {
  const list = arrivals.get(key) ?? [];
  if (list.length === connections.length) return Promise.resolve(list);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(arrivals.get(key) ?? []), timeoutMs);
    waiters.set(key, () => {
      clearTimeout(timer);
      resolve(arrivals.get(key) ?? []);
    });
  });
}

process.on('message', (message: { op: string; id?: number; transport?: TransportName; count?: number; sentAt?: number }) => {
  const { id } = message;
  if (message.op === 'open') {
    void openMany(message.transport as TransportName, message.count as number).then((failed) => reply({ id, failed, total: connections.length }));
  } else if (message.op === 'arrivals') {
    const key = String(message.sentAt);
    void reached(key, 30_000).then((list) => {
      const delays = list.map((at) => at - (message.sentAt as number));
      reply({ id, of: connections.length, delays });
      arrivals.delete(key);
    });
  } else if (message.op === 'exit') {
    for (const conn of connections) conn.close();
    reply({ id });
    setTimeout(() => process.exit(0), 200);
  }
});
reply({ op: 'ready' });
