// The server processes of the cluster specs (spec/redis/*.spec.ts): each runs
// fixtures/cluster-server.ts on the shared Redis and reports over IPC; these helpers start
// them, ask them things and read what they reported.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Inbox, withTimeout } from '../support/harness.js';
import { sharedRedisUrl, testPrefix } from '../support/redis.js';

const fixture = fileURLToPath(new URL('fixtures/cluster-server.ts', import.meta.url));

export interface Reported {
  op: string;
  port?: number;
  text?: string;
  at?: number;
  count?: number;
  code?: string;
  reason?: string;
  resumed?: boolean;
  transport?: string;
  open?: number;
}

/** One server process: its port, what it reported, and a way to ask it things. */
export interface Member {
  child: ChildProcess;
  port: number;
  reports: Inbox<Reported>;
  received: string[];
  /** When each of `received` reached the route's handler (ms since the epoch, sub-millisecond). */
  receivedAt: number[];
  /** Every report, in order, kept for the assertions at the end. */
  log: Reported[];
  ask(message: object): void;
}

/** Where a member's Redis is (the shared one by default) and the adapter's mode. */
export interface MemberSettings {
  url?: string;
  mode?: 'pubsub' | 'streams';
}

export async function startMember(t: TestContext, prefix: string, { url = sharedRedisUrl, mode = 'pubsub' }: MemberSettings = {}): Promise<Member> {
  const child = fork(fixture, { execArgv: ['--import', 'tsx'], env: { ...process.env, REDIS_URL: url, PREFIX: prefix, MODE: mode }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const reports = new Inbox<Reported>();
  const received: string[] = [];
  const receivedAt: number[] = [];
  const log: Reported[] = [];
  child.on('message', (message: Reported) => {
    log.push(message);
    if (message.op !== 'received') return reports.push(message);
    received.push(message.text as string);
    receivedAt.push(message.at as number);
  });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  });
  const listening = await reports.next(20_000, 'a server process to listen');
  return { child, port: listening.port as number, reports, received, receivedAt, log, ask: (message) => child.send(message) };
}

export async function cluster(t: TestContext, size = 3, prefix = testPrefix(), settings: MemberSettings = {}): Promise<Member[]> {
  return Promise.all(Array.from({ length: size }, () => startMember(t, prefix, settings)));
}

/** Every client message the route's handlers got on any process, in the order they got them. */
export function handled(members: Member[]): string[] {
  const all = members.flatMap((m) => m.received.map((text, i) => ({ text, at: m.receivedAt[i] as number })));
  return all.sort((a, b) => a.at - b.at).map((m) => m.text);
}

/** `b0…b35 b20…b99`: a list of numbered texts as its runs, for a failure message. */
export function ranges(texts: string[]): string {
  const runs: string[] = [];
  let start = 0;
  for (let i = 1; i <= texts.length; i++) {
    const n = (k: number) => Number(texts[k]?.slice(1));
    if (i < texts.length && n(i) === n(i - 1) + 1) continue;
    runs.push(start === i - 1 ? `${texts[start]}` : `${texts[start]}…${texts[i - 1]}`);
    start = i;
  }
  return runs.join(' ');
}

/** Waits until the route's handlers got `count` client messages over all processes. */
export async function handledAtLeast(members: Member[], count: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (members.reduce((n, m) => n + m.received.length, 0) < count && Date.now() < deadline) {
    await withTimeout(Promise.race(members.map((m) => once(m.child, 'message'))), Math.max(1, deadline - Date.now()), 'client messages').catch(() => undefined);
  }
}

export function reportsOf(members: Member[], op: string): Reported[] {
  return members.flatMap((m) => m.log.filter((r) => r.op === op));
}

/** The next report `op` of a member (others are skipped). */
export async function reported(member: Member, op: string, ms = 5000): Promise<Reported> {
  for (;;) {
    const report = await member.reports.next(ms, `'${op}' from a server process`);
    if (report.op === op) return report;
  }
}

/** The member that has received `count` client messages (the session's owner), once one has. */
export async function ownerWith(members: Member[], count: number, ms: number): Promise<Member> {
  const deadline = Date.now() + ms;
  for (;;) {
    const owner = members.find((m) => m.received.length >= count);
    if (owner !== undefined) return owner;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no process received ${count} client messages within ${ms} ms (got ${members.map((m) => m.received.length).join(', ')})`);
    await withTimeout(Promise.race(members.map((m) => once(m.child, 'message'))), left, 'a client message').catch(() => undefined);
  }
}

export const quick = { reconnect: { minDelay: 5, maxDelay: 100 }, openTimeout: 3000 } as const;

