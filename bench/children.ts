// Child processes of the benchmark runners (bench/run.ts, bench/cluster.ts): forked with an
// IPC channel, pinned to a core where the machine allows it, asked questions with bounded
// waits, stopped politely and then firmly. Also the machine's CPU counters.
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { ClientEvent } from './protocol.js';

const here = fileURLToPath(new URL('.', import.meta.url));

const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
/** Whether child processes are pinned to cores (needs taskset and 2 cores). */
export const pinned = hasTaskset && cpus().length >= 2;

export interface Child {
  proc: ChildProcess;
  request<T>(message: { op: string } & Record<string, unknown>, timeoutMs?: number): Promise<T>;
  next(op: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

let nextId = 1;

export function start(file: string, args: string[], core: number, execArgv: string[], onEvent: (event: ClientEvent) => void, env: NodeJS.ProcessEnv = process.env): Child {
  const proc = fork(`${here}/${file}`, args, { execArgv: [...execArgv, '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
  // All threads on the core, except under --cpu-prof: V8's sampler thread must be able to run
  // while the main thread is busy, or every sample it takes reads "(idle)".
  const threads = execArgv.includes('--cpu-prof') ? [] : ['-a'];
  if (pinned && proc.pid !== undefined) execFileSync('taskset', [...threads, '-p', '-c', String(core), String(proc.pid)], { stdio: 'ignore' });
  const pending = new Map<number, (reply: Record<string, unknown>) => void>();
  const waiting = new Map<string, (reply: Record<string, unknown>) => void>();
  // 'ready' may come before anyone waits for it: keep it.
  const early = new Map<string, Record<string, unknown>>();
  proc.on('message', (message: Record<string, unknown>) => {
    const id = message.id as number | undefined;
    if (id !== undefined) {
      pending.get(id)?.(message);
      pending.delete(id);
    } else if (waiting.has(message.op as string)) {
      const resolve = waiting.get(message.op as string)!;
      waiting.delete(message.op as string);
      resolve(message);
    } else if (message.op === 'ready') {
      early.set('ready', message);
    } else {
      onEvent(message as unknown as ClientEvent);
    }
  });
  const bounded = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${file} ${args.join(' ')}: no answer to ${what} in ${ms} ms`)), ms);
      const exit = (): void => reject(new Error(`${file} ${args.join(' ')} exited during ${what}`));
      proc.once('exit', exit);
      promise.then(
        (value) => {
          clearTimeout(timer);
          proc.off('exit', exit);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          proc.off('exit', exit);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  return {
    proc,
    request: <T>(message: { op: string } & Record<string, unknown>, timeoutMs = 30_000) => {
      const id = nextId++;
      const reply = new Promise<Record<string, unknown>>((resolve) => pending.set(id, resolve));
      proc.send({ ...message, id });
      return bounded(reply, timeoutMs, message.op).then((r) => {
        if (typeof r.error === 'string') throw new Error(r.error);
        return r as T;
      });
    },
    next: (op, timeoutMs = 30_000) => {
      const seen = early.get(op);
      if (seen !== undefined) return Promise.resolve(seen);
      return bounded(new Promise((resolve) => waiting.set(op, resolve)), timeoutMs, op);
    },
  };
}

export async function stop(child: Child): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise((resolve) => child.proc.once('exit', resolve));
  try {
    await child.request({ op: 'exit' }, 5000);
  } catch {
    // fall through to the kill below
  }
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// --- the machine's other load ---

/** Busy and total jiffies of all cores, from /proc/stat (undefined where there is none). */
export function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Cores kept busy between two samples. */
export function busyCores(a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>): number {
  if (a === undefined || b === undefined || b.total === a.total) return NaN;
  return ((b.busy - a.busy) / (b.total - a.total)) * cpus().length;
}

// --- one scenario ---

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
