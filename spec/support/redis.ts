// Redis for the scale-out specs: the shared server (REDIS_URL, default 127.0.0.1:6379) for
// most tests, each under a prefix of its own, and private `redis-server` processes for the
// tests that kill connections or the server itself (never done to the shared one).
// Without Redis the tests are skipped with the reason printed, except under CI=true, where
// they must run.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, type TestContext } from 'node:test';
import { createClient } from 'redis';
import { freePort, withTimeout } from './harness.js';

export const sharedRedisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** True if a Redis answers PING at `url` within a second. */
export async function answers(url: string): Promise<boolean> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 1000 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

let shared: Promise<boolean> | undefined;

/**
 * The reason to skip a Redis test here, or false to run it: on CI a missing Redis is a
 * failure, not a skip.
 */
export async function withoutRedis(): Promise<string | false> {
  shared ??= answers(sharedRedisUrl);
  if (await shared) return false;
  if (process.env['CI'] === 'true') throw new Error(`CI=true but no Redis answers at ${sharedRedisUrl}: .ci/run must start one`);
  const reason = `no Redis answers at ${sharedRedisUrl} (set REDIS_URL, or start redis-server)`;
  console.log(`# skipping the Redis specs: ${reason}`);
  return reason;
}

const prefixes: string[] = [];

/**
 * A prefix no other test uses: each test is a cluster of its own on the shared Redis. Its
 * keys are deleted when the spec file's tests are done (the shared Redis is left as found).
 */
export function testPrefix(): string {
  const prefix = `ec-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  prefixes.push(prefix);
  return prefix;
}

// Registered as the spec file loads, so it runs once its last test is done. (Registered from
// inside a test, node:test would run it when that test ends, under the feet of the next.)
after(deleteTestKeys);

async function deleteTestKeys(): Promise<void> {
  if (prefixes.length === 0) return;
  const client = createClient({ url: sharedRedisUrl, socket: { reconnectStrategy: false, connectTimeout: 1000 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    for (const prefix of prefixes.splice(0)) {
      for await (const keys of client.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) if (keys.length > 0) await client.del(keys);
    }
  } catch {
    // A Redis that went away takes its keys with it.
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** A `redis-server` of the test's own on a free port, stopped (by its pid) after the test. */
export interface PrivateRedis {
  url: string;
  /** SIGKILLs the server: every connection drops at once. */
  kill(): Promise<void>;
  /** Shuts the server down cleanly (SIGTERM): with `appendonly`, what it held is on disk. */
  shutdown(): Promise<void>;
  /** Starts it again on the same port: empty, or, with `appendonly`, with what it held. */
  start(): Promise<void>;
}

/**
 * With `appendonly: true` the server writes an append-only file (fsync every second) in a
 * directory of its own, deleted after the test: restarted after a clean `shutdown()`, it has
 * every key it had.
 */
export async function privateRedis(t: TestContext, { appendonly = false }: { appendonly?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  const dir = appendonly ? mkdtempSync(join(tmpdir(), 'ec-redis-')) : undefined;
  const persistence = dir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--dir', dir];
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence], { stdio: ['ignore', 'pipe', 'ignore'] });
    child = started;
    // redis-server says when it listens: wait for that line, not for a guessed delay.
    let output = '';
    const ready = new Promise<void>((resolve, reject) => {
      started.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) resolve();
      });
      started.once('exit', (code) => reject(new Error(`redis-server exited (${String(code)}) before it was ready: ${output}`)));
    });
    await withTimeout(ready, 5000, `redis-server on port ${port} to be ready`);
    started.stdout?.resume();
  };
  const stop = async (signal: 'SIGKILL' | 'SIGTERM'): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    running.kill(signal);
    await withTimeout(once(running, 'exit'), 5000, 'redis-server to exit');
  };
  const kill = (): Promise<void> => stop('SIGKILL');
  await start();
  t.after(async () => {
    await kill();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });
  return { url, kill, shutdown: () => stop('SIGTERM'), start };
}
