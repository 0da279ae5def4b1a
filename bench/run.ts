// `npm run bench`: broadcast fan-out, latency, connects and idle memory of express-channel
// side by side with raw ws, socket.io, raw SSE and better-sse. Each scenario runs a fresh
// server process pinned to core 0 and a fresh load generator pinned to core 1, on loopback.
//
// Environment:
//   BENCH_QUICK=1        a reduced run (500 clients, short windows) for smoke-checking, about 2 min
//   BENCH_CLIENTS=1000,5000   client counts (default 1000,5000)
//   BENCH_ROWS=ec-ws,ws-corked  only these rows (kinds from bench/protocol.ts; 'express-sse' is a
//                        diagnostic row run only when named)
//   BENCH_SESSIONS=0|1   force the session rows off/on (default: on once lib/sessions/session.ts is committed)
//   BENCH_BURST=20       broadcasts per tick in the throughput phase; BENCH_WINDOW=4 rounds in flight
//   BENCH_PAYLOAD=64     payload bytes
//   BENCH_REPEAT=1       runs of every scenario (interleaved); the table keeps each metric's best
//   BENCH_PROFILE=ec-ws,ec-sse  run those rows' servers with --cpu-prof (bench/profiles/; summarize
//                        with bench/profile.ts)
//   BENCH_PAIRED=0       skip the paired session measurement (bench/pair.ts), run after the rows
//                        whenever a session row is among them
//   BENCH_CLUSTER=0|1    the cross-process rows through Redis (bench/cluster.ts, its own knobs
//                        there), run last: on by default unless BENCH_ROWS is set; skipped with a
//                        note where no Redis answers at REDIS_URL
//   BENCH_TICK=0|1|only  the one-broadcast-per-tick rows with a latency budget (bench/tick.ts):
//                        on by default unless BENCH_ROWS is set; 'only' runs nothing else
//   BENCH_POLL=0|only    the polling rows (bench/poll.ts) at BENCH_POLL_CLIENTS (default 500,2000):
//                        on by default unless BENCH_ROWS is set without them; 'only' runs nothing else
//   BENCH_CONNECT=0|only server CPU per connect, interleaved rounds (bench/connect.ts, its own knobs
//                        there): on by default unless BENCH_ROWS is set; 'only' runs nothing else
//   BENCH_DOC=1          also rewrite the results sections of docs/performance.md
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { busyCores, cpuTimes, percentile, pinned, start, stop, type Child } from './children.js';
import type { ClientEvent, ClientSnap, MemReply, Row, ServerSnap } from './protocol.js';
import { rows as allRows } from './protocol.js';
import { formatCluster, measureCluster, writeClusterDoc, type ClusterResult } from './cluster.js';
import { describePaired, measurePaired, type PairedOutcome } from './pair.js';
import { bestOf, formatReport, type Result } from './report.js';
import { formatTick, tickLoad, tickWanted, writeTickDoc } from './tick.js';
import { formatPoll, pollLoad, pollSizes, pollWanted, writePollDoc } from './poll.js';
import { connectKinds, formatConnects, measureConnects } from './connect.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const quick = process.env.BENCH_QUICK === '1';
const burst = Number(process.env.BENCH_BURST ?? 20);
const window = Number(process.env.BENCH_WINDOW ?? 4);
const warmMs = quick ? 300 : 500;
const measureMs = quick ? 1000 : 2000;
const probeCount = quick ? 10 : 20;
const concurrency = 200;
const repeat = Number(process.env.BENCH_REPEAT ?? 1);
const profileKind = process.env.BENCH_PROFILE;

// --- which rows and sizes ---

function sessionsLanded(): boolean {
  const forced = process.env.BENCH_SESSIONS;
  if (forced !== undefined) return forced === '1';
  const tracked = spawnSync('git', ['ls-files', 'lib/sessions/session.ts'], { cwd: `${here}/..`, encoding: 'utf8' });
  return tracked.status === 0 && tracked.stdout.trim() !== '';
}

function fdLimit(): number {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  return out === 'unlimited' ? Infinity : Number(out);
}

const sessions = sessionsLanded();
const only = process.env.BENCH_ROWS?.split(',');
const connectOnly = process.env.BENCH_CONNECT === 'only';
const pollOnly = process.env.BENCH_POLL === 'only' || connectOnly;
const tickOnly = process.env.BENCH_TICK === 'only' || pollOnly;
const rows = tickOnly ? [] : allRows.filter((r) => (only === undefined ? r.extra !== true && (sessions || !r.kind.endsWith('-session')) : only.includes(r.kind)));
const limit = fdLimit();
const notes: string[] = [];
if (!sessions && only === undefined) notes.push('session rows skipped: lib/sessions/session.ts is not committed yet (BENCH_SESSIONS=1 forces them)');
const sizes = (process.env.BENCH_CLIENTS?.split(',').map(Number) ?? (quick ? [500] : [1000, 5000])).map((n) => {
  // Each process holds one fd per client, plus a few dozen of its own.
  const cap = Math.floor(limit - 200);
  if (n <= cap) return n;
  notes.push(`${n} clients capped to ${cap}: ulimit -n is ${limit}`);
  return cap;
});

// --- child processes ---

if (!pinned) notes.push('processes not pinned to cores (needs taskset and 2 cores)');

/** How a scenario loads its server: broadcasts per round, rounds in flight, latency probes. */
interface Load {
  burst: number;
  window: number;
  probes: number;
}

async function scenario(row: Row, n: number, load: Load = { burst, window, probes: probeCount }): Promise<Result> {
  const { burst, window, probes: probeCount } = load;
  const profileName = `${here}/profiles/${row.kind}-${n}.cpuprofile`;
  // Each thread writes a profile (tsx's loader runs in a worker), so they go to a directory of
  // their own and the main thread's (thread id 0) is kept as KIND-N.cpuprofile.
  const profileDir = `${here}/profiles/${row.kind}-${n}`;
  const profile = profileKind?.split(',').includes(row.kind) === true ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const env = profile.length > 0 ? { ...process.env, BENCH_PROFILE_WINDOW: `${profileName}.window.json` } : process.env;
  const box: { server?: Child } = {};
  const oneWaiters = new Map<number, (e: Extract<ClientEvent, { op: 'one' }>) => void>();
  // Polling rows run their libraries' real clients; every other row the lean raw sockets.
  const clientFile = row.transport === 'poll' ? 'poll-client.ts' : 'client.ts';
  const client = start(clientFile, [], 1, [], (event) => {
    if (event.op === 'round') box.server?.proc.send({ op: 'ack', id: 0 });
    else if (event.op === 'one') oneWaiters.get(event.seq)?.(event);
  });
  const server = (box.server = start('server.ts', [row.kind], 0, ['--expose-gc', ...profile], () => {}, env));
  try {
    const { port } = (await server.next('ready')) as { port: number };
    await client.next('ready');
    const mem0 = await server.request<MemReply>({ op: 'mem' });
    await server.request({ op: 'phase', name: 'connect', edge: 'from' });
    const { ms } = await client.request<{ ms: number }>({ op: 'connect', port, path: row.path, kind: row.client, n, concurrency }, 90_000);
    await server.request({ op: 'phase', name: 'connect', edge: 'to' });
    for (let waited = 0; (await server.request<{ n: number }>({ op: 'count' })).n < n; waited += 20) {
      if (waited > 5000) throw new Error(`server counts fewer than ${n} clients`);
      await sleep(20);
    }
    const mem1 = await server.request<MemReply>({ op: 'mem' });

    await client.request({ op: 'mode', mode: 'latency', burst: 1 });
    const latencies: number[] = [];
    for (let seq = 1; seq <= probeCount; seq++) {
      const got = new Promise<Extract<ClientEvent, { op: 'one' }>>((resolve) => oneWaiters.set(seq, resolve));
      await server.request({ op: 'one', seq });
      const probe = await Promise.race([got, sleep(10_000).then(() => undefined)]);
      if (probe === undefined) throw new Error(`latency probe ${seq} did not reach all ${n} clients`);
      latencies.push((probe.last - probe.sentAt) / 1000);
    }
    latencies.sort((a, b) => a - b);

    await client.request({ op: 'mode', mode: 'throughput', burst });
    await server.request({ op: 'run', burst, window });
    await sleep(warmMs);
    const [s0, c0] = await Promise.all([server.request<ServerSnap>({ op: 'snap' }), client.request<ClientSnap>({ op: 'snap' })]);
    const m0 = cpuTimes();
    await sleep(measureMs);
    const m1 = cpuTimes();
    const [s1, c1] = await Promise.all([server.request<ServerSnap>({ op: 'snap' }), client.request<ClientSnap>({ op: 'snap' })]);
    const { sent } = await server.request<{ sent: number }>({ op: 'stop' });
    // Every broadcast must reach every client: wait (bounded) for the last ones in flight.
    const expected = (sent + probeCount) * n;
    let final = await client.request<ClientSnap>({ op: 'snap' });
    for (let waited = 0; final.delivered < expected && waited < 5000; waited += 50) {
      await sleep(50);
      final = await client.request<ClientSnap>({ op: 'snap' });
    }
    if (final.delivered !== expected) notes.push(`${row.kind} at ${n} clients: ${expected - final.delivered} of ${expected} deliveries missing after the run`);

    const delivered = c1.delivered - c0.delivered;
    const seconds = (c1.t - c0.t) / 1e6;
    return {
      kind: row.kind,
      label: row.label,
      transport: row.transport,
      clients: n,
      connectsPerSec: n / (ms / 1000),
      memPerChannel: (mem1.heapUsed + mem1.external - mem0.heapUsed - mem0.external) / n,
      rssPerChannel: (mem1.rss - mem0.rss) / n,
      latencyP50: percentile(latencies, 50),
      latencyP99: percentile(latencies, 99),
      deliveriesPerSec: delivered / seconds,
      serverCpu: (s1.cpu - s0.cpu) / (s1.t - s0.t),
      clientCpu: (c1.cpu - c0.cpu) / (c1.t - c0.t),
      otherCpu: Math.max(0, busyCores(m0, m1) - (s1.cpu - s0.cpu) / (s1.t - s0.t) - (c1.cpu - c0.cpu) / (c1.t - c0.t)),
      deliveriesPerCpuSec: delivered / ((s1.cpu - s0.cpu) / 1e6),
      cpuPer1000: delivered === 0 ? NaN : (s1.cpu - s0.cpu) / 1000 / (delivered / 1000),
      closed: final.closed,
    };
  } finally {
    await Promise.all([stop(client), stop(server)]);
    if (profile.length > 0) keepMainThreadProfile(profileDir, profileName);
  }
}

function keepMainThreadProfile(dir: string, name: string): void {
  const main = readdirSync(dir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (main !== undefined) renameSync(`${dir}/${main}`, name);
  rmSync(dir, { recursive: true, force: true });
  console.log(`profile: ${name} (summarize: node --import tsx bench/profile.ts ${name})`);
}

// --- main ---

function machine(): string {
  const model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? 'unknown';
  return `${cpus().length} cores (nproc), ${model}, Node ${process.version}, ${process.platform} ${process.arch}`;
}

const runs: Result[] = [];
const settings = `burst ${burst} broadcasts per tick, ${window} rounds in flight, ${process.env.BENCH_PAYLOAD ?? 64}-byte payload, ${measureMs} ms measured after ${warmMs} ms warm-up, ${probeCount} latency probes`;
console.log(`express-channel bench: ${machine()}`);
console.log(`${settings}; rows: ${rows.map((r) => r.kind).join(', ')}; clients: ${sizes.join(', ')}`);
for (const note of notes) console.log(`note: ${note}`);
for (let rep = 0; rep < repeat; rep++) for (const n of sizes) {
  for (const row of rows) {
    const began = Date.now();
    try {
      const r = await scenario(row, n);
      runs.push(r);
      logResult(row, n, r, began);
    } catch (error) {
      console.log(`${row.kind.padEnd(15)} ${String(n).padStart(5)}: FAILED: ${(error as Error).message}`);
      notes.push(`${row.kind} at ${n} clients failed: ${(error as Error).message}`);
    }
  }
}

function logResult(row: Row, n: number, r: Result, began: number): void {
  console.log(
    `${row.kind.padEnd(15)} ${String(n).padStart(5)}: ${Math.round(r.deliveriesPerSec).toLocaleString('en-US')} deliveries/s ` +
      `(CPU server ${(r.serverCpu * 100).toFixed(0)} %, client ${(r.clientCpu * 100).toFixed(0)} %), broadcast p50 ${r.latencyP50.toFixed(1)} ms, ` +
      `p99 ${r.latencyP99.toFixed(1)} ms, ${Math.round(r.connectsPerSec)} connects/s, ${(r.memPerChannel / 1024).toFixed(1)} KiB/channel` +
      `, other load ${r.otherCpu.toFixed(1)} cores${r.closed > 0 ? `, ${r.closed} CLOSED` : ''} [${((Date.now() - began) / 1000).toFixed(1)} s]`,
  );
}

// One broadcast per tick, with and without a latency budget (bench/tick.ts).
const tickRuns: Result[] = [];
const tickNotes: string[] = [];
const tick = pollOnly ? [] : tickWanted(only);
if (tick.length > 0) {
  const load = tickLoad(quick);
  console.log(`one broadcast per tick: ${load.window} in flight, ${load.probes} latency probes; rows: ${tick.map((r) => r.kind).join(', ')}`);
  for (let rep = 0; rep < repeat; rep++) for (const n of sizes) {
    for (const row of tick) {
      const began = Date.now();
      try {
        const r = await scenario(row, n, load);
        tickRuns.push(r);
        logResult(row, n, r, began);
      } catch (error) {
        console.log(`${row.kind.padEnd(15)} ${String(n).padStart(5)}: FAILED: ${(error as Error).message}`);
        tickNotes.push(`${row.kind} at ${n} clients failed: ${(error as Error).message}`);
      }
    }
  }
}

// Polling, each library with its own client (bench/poll.ts).
const pollRuns: Result[] = [];
const pollNotes: string[] = [];
const poll = connectOnly ? [] : pollWanted(only);
if (poll.length > 0) {
  const load = pollLoad(quick);
  console.log(`polling: ${load.window} in flight, ${load.probes} latency probes; rows: ${poll.map((r) => r.kind).join(', ')}; clients: ${pollSizes(quick).join(', ')}`);
  for (let rep = 0; rep < repeat; rep++) for (const n of pollSizes(quick)) {
    for (const row of poll) {
      const began = Date.now();
      try {
        const r = await scenario(row, n, load);
        pollRuns.push(r);
        logResult(row, n, r, began);
      } catch (error) {
        console.log(`${row.kind.padEnd(15)} ${String(n).padStart(5)}: FAILED: ${(error as Error).message}`);
        pollNotes.push(`${row.kind} at ${n} clients failed: ${(error as Error).message}`);
      }
    }
  }
}

// Sessions against plain channels, paired in one server process (see bench/pair.ts for why).
const paired: PairedOutcome[] = [];
const pairedTransports = (['websocket', 'sse'] as const).filter((t) => rows.some((r) => r.kind === (t === 'websocket' ? 'ec-ws-session' : 'ec-sse-session')));
if (process.env.BENCH_PAIRED !== '0' && !tickOnly) {
  for (const n of sizes) {
    for (const transport of pairedTransports) {
      try {
        const outcome = await measurePaired(transport, n, quick ? 8 : 20);
        paired.push(outcome);
        console.log(`paired ${describePaired(outcome)}`);
      } catch (error) {
        notes.push(`paired ${transport} at ${n} failed: ${(error as Error).message}`);
      }
    }
  }
}

// Server CPU per connect, interleaved rounds (bench/connect.ts).
const connectWanted = connectOnly || (process.env.BENCH_CONNECT !== '0' && only === undefined && !tickOnly);
let connectReport: string | undefined;
if (connectWanted) {
  const n = Number(process.env.BENCH_CONNECT_CLIENTS ?? (quick ? 1000 : 5000));
  const rounds = Number(process.env.BENCH_CONNECT_ROUNDS ?? (quick ? 2 : 5));
  const connectRuns = await measureConnects({ n, rounds, kinds: connectKinds, profile: profileKind?.split(',') ?? [] });
  connectReport = formatConnects(connectRuns, { machine: machine(), n, rounds, date: new Date().toISOString().slice(0, 10) });
  console.log(`\nConnects, server CPU per connect:\n\n${connectReport}`);
}

// Across processes through Redis, after everything else (bench/cluster.ts).
const clusterNotes: string[] = [];
const clusterWanted = process.env.BENCH_CLUSTER === '1' || (process.env.BENCH_CLUSTER !== '0' && only === undefined && !tickOnly);
const cluster: ClusterResult[] = clusterWanted ? await measureCluster({ quick, repeat, notes: clusterNotes }) : [];
const clusterReport = clusterWanted ? formatCluster(cluster, clusterNotes) : undefined;

const results = bestOf(runs);
const date = new Date().toISOString().slice(0, 10);
const report = formatReport(results, { machine: machine(), settings, notes, date }, paired);
if (rows.length > 0) console.log(`\n${report}`);
const tickResults = bestOf(tickRuns);
const tickReport = tick.length > 0 ? formatTick(tickResults, { machine: machine(), load: tickLoad(quick), notes: tickNotes, date, repeat }) : undefined;
if (tickReport !== undefined) console.log(`\nOne broadcast per tick, with a latency budget:\n\n${tickReport}`);
const pollResults = bestOf(pollRuns);
const pollReport = poll.length > 0 ? formatPoll(pollResults, { machine: machine(), load: pollLoad(quick), notes: pollNotes, date, repeat }) : undefined;
if (pollReport !== undefined) console.log(`\nPolling:\n\n${pollReport}`);
if (clusterReport !== undefined) console.log(`\nAcross processes, through Redis:\n\n${clusterReport}`);
mkdirSync(`${here}/results`, { recursive: true });
writeFileSync(`${here}/results/latest.json`, JSON.stringify({ machine: machine(), settings, notes, results, paired, cluster, clusterNotes, tick: tickResults, tickNotes, poll: pollResults, pollNotes }, null, 2));
if (rows.length > 0) writeFileSync(`${here}/results/latest.md`, report);
if (tickReport !== undefined) writeFileSync(`${here}/results/tick.md`, tickReport);
if (process.env.BENCH_DOC === '1' && !quick && tickReport !== undefined) writeTickDoc(tickReport);
if (pollReport !== undefined) writeFileSync(`${here}/results/poll.md`, pollReport);
if (process.env.BENCH_DOC === '1' && !quick && pollReport !== undefined) writePollDoc(pollReport);
if (clusterReport !== undefined) writeFileSync(`${here}/results/cluster.md`, clusterReport);
if (connectReport !== undefined) writeFileSync(`${here}/results/connect.md`, `${connectReport}\n`);
if (process.env.BENCH_DOC === '1' && !quick && cluster.length > 0) writeClusterDoc(clusterReport!);
if (process.env.BENCH_DOC === '1' && !quick && rows.length > 0) {
  const docPath = `${here}/../docs/performance.md`;
  const doc = readFileSync(docPath, 'utf8');
  const begin = '<!-- bench:begin -->';
  const end = '<!-- bench:end -->';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${docPath} has no ${begin} … ${end} section`);
  writeFileSync(docPath, `${doc.slice(0, from + begin.length)}\n${report}\n${doc.slice(to)}`);
  console.log(`updated ${docPath}`);
}
