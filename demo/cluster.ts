// `REDIS_URL=… npm start`: the demo as several processes (PROCESSES, default 3), each the same
// app with the Redis adapter on an ephemeral 127.0.0.1 port, behind the round-robin balancer
// of balancer.ts on PORT. The processes are child processes of this one (node:child_process
// fork, so each is a separate Node with its own memory, as separate servers would be); they
// share nothing but Redis, under a prefix of this run's own.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { startBalancer, type Backend, type Balancer } from './balancer.js';

export interface ClusterOptions {
  redisUrl: string;
  processes: number;
  port: number;
  host: string;
  /** Keys and channels of this run in Redis. @defaultValue `ec-demo-<random>` */
  prefix?: string | undefined;
}

export interface Cluster {
  balancer: Balancer;
  backends: Backend[];
  /** Stops every process (by its pid), then the balancer. */
  close(): Promise<void>;
}

const worker = fileURLToPath(new URL('server.ts', import.meta.url));
/** How long a process may take to close cleanly before it is killed. */
const stopDeadline = 5000;

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  await assertRedisAnswers(options.redisUrl);
  const prefix = options.prefix ?? `ec-demo-${Math.random().toString(36).slice(2, 10)}`;
  const children: ChildProcess[] = [];
  let stopping = false;
  const start = async (label: string): Promise<Backend> => {
    // Its own flags, not this process's (a test runner's would make it run as a test file).
    const child = fork(worker, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, REDIS_URL: options.redisUrl, DEMO_PROCESS: label, REDIS_PREFIX: prefix, PORT: '0' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const backend: Backend = { label, port: await portOf(child, label), pid: child.pid, alive: true };
    child.once('exit', (code, signal) => {
      backend.alive = false;
      if (!stopping) console.error(`express-channel demo: process ${label} exited (${signal ?? code}); the others go on`);
    });
    return backend;
  };
  let backends: Backend[];
  try {
    backends = await Promise.all(Array.from({ length: options.processes }, (_, i) => start(`p${i + 1}`)));
  } catch (error) {
    await stopAll(children);
    throw error;
  }
  const balancer = await startBalancer(backends, options.port, options.host);
  return {
    balancer,
    backends,
    async close() {
      stopping = true;
      await stopAll(children);
      await balancer.close();
    },
  };
}

/** Fails at once, with what to do, when nothing answers at `url` (rather than N processes retrying). */
async function assertRedisAnswers(url: string): Promise<void> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  client.on('error', () => undefined); // the rejection below says it
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`No Redis answers at REDIS_URL=${url} (${String(error)}): start redis-server, or unset REDIS_URL for the one-process demo`, { cause: error });
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** The port a process says it listens on (it sends `{ port }` over IPC once it does). */
async function portOf(child: ChildProcess, label: string): Promise<number> {
  const message = new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: unknown }) => (typeof m.port === 'number' ? resolve(m.port) : reject(new Error(`process ${label} said ${JSON.stringify(m)}`))));
    child.once('exit', (code) => reject(new Error(`process ${label} exited (${String(code)}) before it listened`)));
  });
  return message;
}

async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(children.map((child) => stop(child)));
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), stopDeadline);
  await exited;
  clearTimeout(timer);
}
