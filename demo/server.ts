// `npm start`: the demo dashboard on http://localhost:3000 (PORT and HOST change it), with the
// embedded in-memory defaults: no Redis, nothing to set up.
// With REDIS_URL set: the same demo as PROCESSES processes (default 3) behind a round-robin
// balancer on PORT (cluster.ts); each of those processes runs this file too, with
// DEMO_PROCESS naming it.
import type { Server } from 'node:http';
import { createDemo, type Demo } from './app.js';
import { startCluster } from './cluster.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const redisUrl = process.env.REDIS_URL;
const label = process.env.DEMO_PROCESS;
const where = (listening: number | undefined): string => `http://${host === '127.0.0.1' ? 'localhost' : host}:${listening}`;

try {
  if (label !== undefined && redisUrl !== undefined) await runProcess(label, redisUrl);
  else if (redisUrl !== undefined && redisUrl !== '') await runCluster(redisUrl);
  else await runAlone();
} catch (error) {
  // A start that cannot be (no Redis, a port in use, a bad PROCESSES): one line saying why.
  console.error(`express-channel demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

async function runAlone(): Promise<void> {
  const demo = createDemo();
  const server = await demo.listen(port, host);
  console.log(`express-channel demo: ${where(portOf(server))}  (Ctrl+C stops it)`);
  stopOnSignals(() => demo.close());
}

async function runCluster(url: string): Promise<void> {
  const processes = Number(process.env.PROCESSES ?? 3);
  if (!Number.isInteger(processes) || processes < 1 || processes > 16) throw new Error(`PROCESSES must be a whole number from 1 to 16, not ${process.env.PROCESSES}`);
  const cluster = await startCluster({ redisUrl: url, processes, port, host, prefix: process.env.REDIS_PREFIX });
  const names = cluster.backends.map((b) => `${b.label} (pid ${b.pid})`).join(', ');
  console.log(`express-channel demo: ${where(portOf(cluster.balancer.server))}  (processes ${names} through Redis at ${url}, round robin; Ctrl+C stops them)`);
  stopOnSignals(() => cluster.close());
}

/** One process of the cluster: tells its parent its port over IPC, stops when told or orphaned. */
async function runProcess(name: string, url: string): Promise<void> {
  const { redisAdapter } = await import('../lib/redis/index.js');
  const prefix = process.env.REDIS_PREFIX ?? 'ec-demo';
  const demo: Demo = createDemo({ process: name, channels: { adapter: redisAdapter({ url, prefix }) } });
  const server = await demo.listen(0, '127.0.0.1');
  process.send?.({ port: portOf(server) });
  // Its parent gone (killed without a chance to stop it): no orphan left serving.
  stopOnSignals(() => demo.close(), ['SIGINT', 'SIGTERM', 'disconnect']);
}

function portOf(server: Server): number | undefined {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : undefined;
}

/** Closes once on the first of `events` (Ctrl+C reaches the processes too: one close each). */
function stopOnSignals(close: () => Promise<void>, events: readonly ('SIGINT' | 'SIGTERM' | 'disconnect')[] = ['SIGINT', 'SIGTERM']): void {
  let closing: Promise<void> | undefined;
  const stop = (): void => {
    closing ??= close().then(() => process.exit(0));
  };
  for (const event of events) process.on(event, stop);
}
