// Formats the benchmark's results: one table of absolute numbers, one of the ratios the
// targets of issue 3 (and the session row of issue 4) are stated in.
import type { ServerKind } from './protocol.js';

export interface Result {
  kind: ServerKind;
  label: string;
  transport: 'websocket' | 'sse' | 'poll';
  clients: number;
  connectsPerSec: number;
  /** Bytes of JS heap + external memory per idle client, after gc(). */
  memPerChannel: number;
  /** Bytes of resident set size per idle client (includes native handles; noisier). */
  rssPerChannel: number;
  /** ms from the broadcast call to the last client receiving it. */
  latencyP50: number;
  latencyP99: number;
  deliveriesPerSec: number;
  /** Server CPU time / wall time over the measured window (1 = one core saturated). */
  serverCpu: number;
  /** The same for the load generator: near 1, it (not the server) may be the bottleneck. */
  clientCpu: number;
  /** Deliveries per second of server CPU time: what one saturated core would do, robust to a busy machine. */
  deliveriesPerCpuSec: number;
  /** Server CPU ms per 1,000 deliveries. */
  cpuPer1000: number;
  /** Cores kept busy by other processes on the machine during the measured window. */
  otherCpu: number;
  /** Clients the server closed during the run (should be 0). */
  closed: number;
  /** Runs merged into this result. */
  runs?: number;
}

/** Merges the repeated runs of each scenario, keeping each metric's best (a busy machine only ever makes numbers worse). */
export function bestOf(runs: readonly Result[]): Result[] {
  const merged = new Map<string, Result>();
  for (const r of runs) {
    const key = `${r.kind}:${r.clients}`;
    const m = merged.get(key);
    if (m === undefined) {
      merged.set(key, { ...r, runs: 1 });
      continue;
    }
    const betterLatency = r.latencyP50 < m.latencyP50;
    const betterThroughput = r.deliveriesPerCpuSec > m.deliveriesPerCpuSec;
    merged.set(key, {
      ...m,
      runs: (m.runs ?? 1) + 1,
      connectsPerSec: Math.max(m.connectsPerSec, r.connectsPerSec),
      memPerChannel: Math.min(m.memPerChannel, r.memPerChannel),
      rssPerChannel: Math.min(m.rssPerChannel, r.rssPerChannel),
      latencyP50: betterLatency ? r.latencyP50 : m.latencyP50,
      latencyP99: betterLatency ? r.latencyP99 : m.latencyP99,
      deliveriesPerSec: Math.max(m.deliveriesPerSec, r.deliveriesPerSec),
      // CPU figures of the same run, so they stay consistent with each other.
      deliveriesPerCpuSec: betterThroughput ? r.deliveriesPerCpuSec : m.deliveriesPerCpuSec,
      cpuPer1000: betterThroughput ? r.cpuPer1000 : m.cpuPer1000,
      serverCpu: Math.max(m.serverCpu, r.serverCpu),
      clientCpu: betterThroughput ? r.clientCpu : m.clientCpu,
      otherCpu: Math.min(m.otherCpu, r.otherCpu),
      closed: m.closed + r.closed,
    });
  }
  return [...merged.values()].sort((a, b) => a.clients - b.clients);
}

interface Ratio {
  name: string;
  of: ServerKind;
  to: ServerKind;
  metric: 'deliveriesPerCpuSec' | 'memPerChannel' | 'rssPerChannel' | 'connectsPerSec';
  target: string;
  /** true if a value meets the target. */
  meets: (value: number) => boolean;
}

const ratios: Ratio[] = [
  { name: 'WS broadcast vs ws frame once + cork', of: 'ec-ws', to: 'ws-corked', metric: 'deliveriesPerCpuSec', target: '≥ 0.85×', meets: (v) => v >= 0.85 },
  { name: 'WS broadcast vs socket.io', of: 'ec-ws', to: 'socketio', metric: 'deliveriesPerCpuSec', target: '≥ 5× (at 5,000)', meets: (v) => v >= 5 },
  { name: 'SSE broadcast vs raw SSE socket + cork', of: 'ec-sse', to: 'sse-corked', metric: 'deliveriesPerCpuSec', target: '≥ 0.85×', meets: (v) => v >= 0.85 },
  { name: 'SSE broadcast vs better-sse', of: 'ec-sse', to: 'better-sse', metric: 'deliveriesPerCpuSec', target: '≥ 3×', meets: (v) => v >= 3 },
  // Separate runs drift by ±0.15 here (see docs/performance.md): the target is judged on the
  // paired measurement below; these rows stay as a cross-check.
  { name: 'WS session broadcast vs plain ws channel (separate runs)', of: 'ec-ws-session', to: 'ec-ws', metric: 'deliveriesPerCpuSec', target: '(paired below)', meets: () => true },
  { name: 'SSE session broadcast vs plain sse channel (separate runs)', of: 'ec-sse-session', to: 'ec-sse', metric: 'deliveriesPerCpuSec', target: '(paired below)', meets: () => true },
  { name: 'memory per idle WS channel vs raw ws', of: 'ec-ws', to: 'ws-loop', metric: 'memPerChannel', target: '≤ 1.25×', meets: (v) => v <= 1.25 },
  { name: 'memory per idle SSE channel vs raw SSE', of: 'ec-sse', to: 'sse-loop', metric: 'memPerChannel', target: '≤ 1.3×', meets: (v) => v <= 1.3 },
  { name: 'RSS per idle SSE channel vs raw SSE', of: 'ec-sse', to: 'sse-loop', metric: 'rssPerChannel', target: '≤ 1.3×', meets: (v) => v <= 1.3 },
  { name: 'memory per idle SSE channel vs Express + raw SSE by hand', of: 'ec-sse', to: 'express-sse', metric: 'memPerChannel', target: '(for comparison)', meets: () => true },
  { name: 'WS connects/s vs raw ws', of: 'ec-ws', to: 'ws-loop', metric: 'connectsPerSec', target: '≥ 0.8×', meets: (v) => v >= 0.8 },
  { name: 'SSE connects/s vs raw SSE', of: 'ec-sse', to: 'sse-loop', metric: 'connectsPerSec', target: '(none)', meets: () => true },
  // Wall-clock connects/s on a shared machine: server CPU per connect is measured interleaved by bench/connect.ts.
  { name: 'WS connects/s vs Express + ws by hand', of: 'ec-ws', to: 'express-ws', metric: 'connectsPerSec', target: '(CPU: bench/connect.ts)', meets: () => true },
  { name: 'SSE connects/s vs Express + SSE by hand', of: 'ec-sse', to: 'express-sse', metric: 'connectsPerSec', target: '(CPU: bench/connect.ts)', meets: () => true },
];

const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

/** A paired session measurement (bench/pair.ts), as the report needs it. */
export interface PairedRatio {
  transport: 'websocket' | 'sse';
  clients: number;
  ratio: number;
  pairRatios: number[];
}

export function formatReport(
  results: readonly Result[],
  meta: { machine: string; settings: string; notes: readonly string[]; date: string },
  paired: readonly PairedRatio[] = [],
): string {
  const lines: string[] = [];
  lines.push(`Run ${meta.date} on ${meta.machine}.`, '', `Settings: ${meta.settings}.`, '');
  lines.push(
    '| server | clients | deliveries/s | deliveries / server CPU-s | server CPU | client CPU | other load (cores) | CPU ms / 1k deliveries | broadcast p50 ms | broadcast p99 ms | connects/s | KiB / idle channel (heap+ext) | KiB / idle channel (RSS) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of results) {
    lines.push(
      `| ${r.label}${r.closed > 0 ? ` (${r.closed} closed!)` : ''} | ${int(r.clients)} | ${int(r.deliveriesPerSec)} | ${int(r.deliveriesPerCpuSec)} | ${fixed(r.serverCpu * 100, 0)} % | ${fixed(r.clientCpu * 100, 0)} % | ${fixed(r.otherCpu, 1)} | ${fixed(r.cpuPer1000, 2)} | ` +
        `${fixed(r.latencyP50, 1)} | ${fixed(r.latencyP99, 1)} | ${int(r.connectsPerSec)} | ${fixed(r.memPerChannel / 1024, 1)} | ${fixed(r.rssPerChannel / 1024, 1)} |`,
    );
  }
  const sizes = [...new Set(results.map((r) => r.clients))].sort((a, b) => a - b);
  lines.push('', `| express-channel ratio | ${sizes.map((n) => `${int(n)} clients`).join(' | ')} | target |`, `| --- | ${sizes.map(() => '---:').join(' | ')} | --- |`);
  for (const ratio of ratios) {
    const cells = sizes.map((n) => {
      const a = results.find((r) => r.kind === ratio.of && r.clients === n);
      const b = results.find((r) => r.kind === ratio.to && r.clients === n);
      if (a === undefined || b === undefined) return '–';
      const v = a[ratio.metric] / b[ratio.metric];
      const wall = ratio.metric === 'deliveriesPerCpuSec' ? ` (wall ${(a.deliveriesPerSec / b.deliveriesPerSec).toFixed(2)}×)` : '';
      return `${v.toFixed(2)}×${ratio.meets(v) ? '' : ' ✗'}${wall}`;
    });
    if (cells.every((c) => c === '–')) continue;
    lines.push(`| ${ratio.name} | ${cells.join(' | ')} | ${ratio.target} |`);
  }
  for (const transport of ['websocket', 'sse'] as const) {
    const cells = sizes.map((n) => {
      const p = paired.find((r) => r.transport === transport && r.clients === n);
      if (p === undefined) return '–';
      const sorted = [...p.pairRatios].sort((a, b) => a - b);
      return `${p.ratio.toFixed(2)}×${p.ratio >= 0.85 ? '' : ' ✗'} (pairs ${fixed(sorted[0] ?? NaN, 2)}–${fixed(sorted[sorted.length - 1] ?? NaN, 2)})`;
    });
    if (cells.every((c) => c === '–')) continue;
    const name = transport === 'websocket' ? 'WS' : 'SSE';
    lines.push(`| ${name} session vs plain, paired in one server (CPU per delivery) | ${cells.join(' | ')} | ≥ 0.85× |`);
  }
  if (meta.notes.length > 0) lines.push('', ...meta.notes.map((n) => `- note: ${n}`));
  return lines.join('\n');
}
