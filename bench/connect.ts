// Connects, interleaved: what an accepted connection costs the server, in CPU time, for
// express-channel and for the same design done by hand (an Express route handing the upgrade
// to ws's handleUpgrade; an Express route writing the SSE headers itself), beside raw `ws`
// and raw `http` SSE.
//   node --import tsx bench/connect.ts          (or BENCH_CONNECT=only npm run bench)
// Each run of a row is a fresh server process (core 0) and load generator (core 1); CPU is the
// server's process.cpuUsage() across the connect phase, divided by the clients. The rows run
// round after round, their order rotated each round, so a busier moment of the shared machine
// falls on every row alike; the ratios are taken within a round and reported as their median
// and range.
//   BENCH_CONNECT_CLIENTS=5000  BENCH_CONNECT_ROUNDS=7  BENCH_CONNECT_ROWS=ec-ws,express-ws,…
//   BENCH_PROFILE=ec-ws  profiles those rows' servers (the last round's), bench/profiles/connect-KIND.cpuprofile
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { start, stop } from './children.js';
import { rows, type Row, type ServerKind, type ServerSnap } from './protocol.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** What each compared pair says: `of` costs this many times `to` per connect. */
const pairs: ReadonlyArray<{ name: string; of: ServerKind; to: ServerKind; target?: string; meets?: (v: number) => boolean }> = [
  { name: 'WS: express-channel vs Express + ws by hand', of: 'ec-ws', to: 'express-ws', target: '≤ 1.05×', meets: (v) => v <= 1.05 },
  { name: 'SSE: express-channel vs Express + SSE by hand', of: 'ec-sse', to: 'express-sse', target: '≤ 1.05×', meets: (v) => v <= 1.05 },
  { name: 'WS: Express + ws by hand vs raw ws', of: 'express-ws', to: 'ws-loop' },
  { name: 'SSE: Express + SSE by hand vs raw SSE', of: 'express-sse', to: 'sse-corked' },
  { name: 'WS: express-channel vs raw ws', of: 'ec-ws', to: 'ws-loop' },
  { name: 'SSE: express-channel vs raw SSE', of: 'ec-sse', to: 'sse-corked' },
];

export const connectKinds: readonly ServerKind[] = ['ws-loop', 'express-ws', 'ec-ws', 'sse-corked', 'express-sse', 'ec-sse'];

export interface ConnectRun {
  kind: ServerKind;
  round: number;
  /** Server CPU µs per accepted connection. */
  cpuUs: number;
  connectsPerSec: number;
}

async function connectOnce(row: Row, n: number, round: number, profile: boolean): Promise<ConnectRun> {
  const dir = `${here}/profiles/connect-${row.kind}`;
  const name = `${here}/profiles/connect-${row.kind}.cpuprofile`;
  const execArgv = ['--expose-gc', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [])];
  const env = profile ? { ...process.env, BENCH_PROFILE_WINDOW: `${name}.window.json` } : process.env;
  const client = start('client.ts', [], 1, [], () => {});
  const server = start('server.ts', [row.kind], 0, execArgv, () => {}, env);
  try {
    const { port } = (await server.next('ready')) as { port: number };
    await client.next('ready');
    // A collection now, not during the phase, for every row alike.
    await server.request({ op: 'mem' });
    await server.request({ op: 'phase', name: 'connect', edge: 'from' });
    const s0 = await server.request<ServerSnap>({ op: 'snap' });
    const { ms } = await client.request<{ ms: number }>({ op: 'connect', port, path: row.path, kind: row.client, n, concurrency: 200 }, 90_000);
    const s1 = await server.request<ServerSnap>({ op: 'snap' });
    await server.request({ op: 'phase', name: 'connect', edge: 'to' });
    return { kind: row.kind, round, cpuUs: (s1.cpu - s0.cpu) / n, connectsPerSec: n / (ms / 1000) };
  } finally {
    await Promise.all([stop(client), stop(server)]);
    if (profile) keepMainThread(dir, name);
  }
}

function keepMainThread(dir: string, name: string): void {
  const main = readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (main !== undefined) renameSync(`${dir}/${main}`, name);
  rmSync(dir, { recursive: true, force: true });
  console.log(`profile: ${name} (summarize: node --import tsx bench/profile.ts ${name} connect)`);
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Runs every row `rounds` times, interleaved; returns every run. */
export async function measureConnects(options: { n: number; rounds: number; kinds: readonly ServerKind[]; profile: readonly string[] }): Promise<ConnectRun[]> {
  const runs: ConnectRun[] = [];
  const selected = options.kinds.map((kind) => rows.find((r) => r.kind === kind)!);
  for (let round = 0; round < options.rounds; round++) {
    // Rotated each round, so no row always follows the same one.
    const order = selected.map((_, i) => selected[(i + round) % selected.length]!);
    for (const row of order) {
      const run = await connectOnce(row, options.n, round, options.profile.includes(row.kind) && round === options.rounds - 1);
      runs.push(run);
      console.log(`connect ${row.kind.padEnd(12)} round ${round + 1}: ${run.cpuUs.toFixed(1)} µs server CPU per connect, ${Math.round(run.connectsPerSec)} connects/s`);
    }
  }
  return runs;
}

/** The table of a measurement: per row, median CPU per connect; per pair, the ratio within rounds. */
export function formatConnects(runs: readonly ConnectRun[], meta: { machine: string; n: number; rounds: number; date: string }): string {
  const lines = [`Run ${meta.date} on ${meta.machine}.`, '', `${meta.n.toLocaleString('en-US')} clients, 200 handshakes in flight, ${meta.rounds} interleaved rounds (order rotated each round); medians, and the range over rounds.`, ''];
  lines.push('| server | server CPU µs per connect (median) | range | connects/s (median) |', '| --- | ---: | ---: | ---: |');
  const kinds = [...new Set(runs.map((r) => r.kind))];
  for (const kind of kinds) {
    const of = runs.filter((r) => r.kind === kind);
    const cpu = of.map((r) => r.cpuUs);
    const label = rows.find((r) => r.kind === kind)?.label ?? kind;
    lines.push(`| ${label} | ${median(cpu).toFixed(1)} | ${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)} | ${Math.round(median(of.map((r) => r.connectsPerSec))).toLocaleString('en-US')} |`);
  }
  lines.push('', '| server CPU per connect, within a round | median | range | target |', '| --- | ---: | ---: | --- |');
  for (const pair of pairs) {
    const ratios: number[] = [];
    for (const run of runs.filter((r) => r.kind === pair.of)) {
      const other = runs.find((r) => r.kind === pair.to && r.round === run.round);
      if (other !== undefined) ratios.push(run.cpuUs / other.cpuUs);
    }
    if (ratios.length === 0) continue;
    const m = median(ratios);
    const mark = pair.meets === undefined || pair.meets(m) ? '' : ' ✗';
    lines.push(`| ${pair.name} | ${m.toFixed(2)}×${mark} | ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}× | ${pair.target ?? '(for comparison)'} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { cpus } = await import('node:os');
  const n = Number(process.env.BENCH_CONNECT_CLIENTS ?? 5000);
  const rounds = Number(process.env.BENCH_CONNECT_ROUNDS ?? 7);
  const kinds = (process.env.BENCH_CONNECT_ROWS?.split(',') as ServerKind[] | undefined) ?? connectKinds;
  const runs = await measureConnects({ n, rounds, kinds, profile: process.env.BENCH_PROFILE?.split(',') ?? [] });
  const machine = `${cpus().length} cores (nproc), ${cpus()[0]?.model ?? 'unknown'}, Node ${process.version}`;
  const table = formatConnects(runs, { machine, n, rounds, date: new Date().toISOString().slice(0, 10) });
  console.log(`\n${table}`);
  mkdirSync(`${here}/results`, { recursive: true });
  writeFileSync(`${here}/results/connect.md`, `${table}\n`);
}
