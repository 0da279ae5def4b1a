// One broadcast per tick (a ticker, a dashboard, a chat that is not bursting), where every
// server that writes each broadcast to each socket as it is made pays one syscall per
// delivery: express-channel with a latency budget (`channels({ flushInterval })`, 2 and
// 10 ms), which holds a socket's writes and lets them out as one writev, beside raw ws,
// socket.io and express-channel without one. Run by bench/run.ts (BENCH_TICK); the table
// goes to bench/results/tick.md and, with BENCH_DOC=1, to docs/performance.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tickRows, type Row, type ServerKind } from './protocol.js';
import type { Result } from './report.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The rows to run: every tick row by default, the named ones under BENCH_ROWS (none if no
 * tick row is named), none with BENCH_TICK=0.
 */
export function tickWanted(only: readonly string[] | undefined): readonly Row[] {
  if (process.env.BENCH_TICK === '0') return [];
  return only === undefined ? tickRows : tickRows.filter((r) => only.includes(r.kind));
}

/**
 * One broadcast a round, so a round is a tick of its own; 80 broadcasts in flight at most,
 * as the cross-process rows at one per tick (bench/cluster.ts): CPU, not round trips, limits
 * every row. More probes than the burst rows: the added p99 latency is a target here.
 */
export function tickLoad(quick: boolean): { burst: number; window: number; probes: number } {
  return { burst: 1, window: Number(process.env.BENCH_TICK_WINDOW ?? 80), probes: quick ? 20 : 50 };
}

interface Ratio {
  name: string;
  of: ServerKind;
  to: ServerKind;
  target: string;
  meets?: (value: number) => boolean;
}

const ratios: Ratio[] = [
  { name: 'flushInterval 10 vs socket.io', of: 'ec-ws-f10', to: 'socketio', target: '≥ 5×', meets: (v) => v >= 5 },
  { name: 'flushInterval 10 vs ws, send per client', of: 'ec-ws-f10', to: 'ws-loop', target: '≥ 4×', meets: (v) => v >= 4 },
  { name: 'flushInterval 2 vs socket.io', of: 'ec-ws-f2', to: 'socketio', target: '(none)' },
  { name: 'flushInterval 2 vs ws, send per client', of: 'ec-ws-f2', to: 'ws-loop', target: '(none)' },
  { name: 'flushInterval 0 vs ws, send per client', of: 'ec-ws', to: 'ws-loop', target: '(none)' },
  { name: 'flushInterval 10 vs ws, frame once + cork for the tick', of: 'ec-ws-f10', to: 'ws-corked', target: '(none)' },
  { name: 'SSE: flushInterval 10 vs 0', of: 'ec-sse-f10', to: 'ec-sse', target: '(none)' },
];

/** Added p99 latency of a budget: its row's p99 against the same transport's flushInterval 0. */
const budgets: Array<{ of: ServerKind; to: ServerKind; budget: number }> = [
  { of: 'ec-ws-f2', to: 'ec-ws', budget: 2 },
  { of: 'ec-ws-f10', to: 'ec-ws', budget: 10 },
  { of: 'ec-sse-f10', to: 'ec-sse', budget: 10 },
];

const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

export function formatTick(
  results: readonly Result[],
  meta: { machine: string; load: { window: number; probes: number }; notes: readonly string[]; date: string; repeat: number },
): string {
  const lines: string[] = [];
  lines.push(
    `Run ${meta.date} on ${meta.machine}.`,
    '',
    `Settings: one broadcast per tick, ${meta.load.window} broadcasts in flight, ${process.env.BENCH_PAYLOAD ?? 64}-byte payload, ` +
      `${meta.load.probes} latency probes (single broadcasts, the server otherwise idle), best of ${meta.repeat} run${meta.repeat === 1 ? '' : 's'}.`,
    '',
    '| server | clients | deliveries/s | deliveries / server CPU-s | server CPU | client CPU | other load (cores) | CPU ms / 1k deliveries | broadcast p50 ms | broadcast p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of results) {
    lines.push(
      `| ${r.label}${r.closed > 0 ? ` (${r.closed} closed!)` : ''} | ${int(r.clients)} | ${int(r.deliveriesPerSec)} | ${int(r.deliveriesPerCpuSec)} | ${fixed(r.serverCpu * 100, 0)} % | ` +
        `${fixed(r.clientCpu * 100, 0)} % | ${fixed(r.otherCpu, 1)} | ${fixed(r.cpuPer1000, 2)} | ${fixed(r.latencyP50, 1)} | ${fixed(r.latencyP99, 1)} |`,
    );
  }
  const sizes = [...new Set(results.map((r) => r.clients))].sort((a, b) => a - b);
  const find = (kind: ServerKind, n: number): Result | undefined => results.find((r) => r.kind === kind && r.clients === n);
  lines.push('', `| deliveries per server CPU-second | ${sizes.map((n) => `${int(n)} clients`).join(' | ')} | target |`, `| --- | ${sizes.map(() => '---:').join(' | ')} | --- |`);
  for (const ratio of ratios) {
    const cells = sizes.map((n) => {
      const a = find(ratio.of, n);
      const b = find(ratio.to, n);
      if (a === undefined || b === undefined) return '–';
      const v = a.deliveriesPerCpuSec / b.deliveriesPerCpuSec;
      const miss = ratio.meets !== undefined && !ratio.meets(v) ? ' ✗' : '';
      return `${v.toFixed(2)}×${miss} (wall ${(a.deliveriesPerSec / b.deliveriesPerSec).toFixed(2)}×)`;
    });
    if (cells.some((c) => c !== '–')) lines.push(`| ${ratio.name} | ${cells.join(' | ')} | ${ratio.target} |`);
  }
  for (const { of, to, budget } of budgets) {
    const cells = sizes.map((n) => {
      const a = find(of, n);
      const b = find(to, n);
      if (a === undefined || b === undefined) return '–';
      const added = a.latencyP99 - b.latencyP99;
      return `${added >= 0 ? '+' : ''}${added.toFixed(1)} ms${added <= budget + 5 ? '' : ' ✗'} (p50 ${a.latencyP50 - b.latencyP50 >= 0 ? '+' : ''}${(a.latencyP50 - b.latencyP50).toFixed(1)})`;
    });
    const name = `added p99 latency, ${of.startsWith('ec-sse') ? 'SSE' : 'WS'} flushInterval ${budget} vs 0`;
    if (cells.some((c) => c !== '–')) lines.push(`| ${name} | ${cells.join(' | ')} | ≤ ${budget + 5} ms |`);
  }
  if (meta.notes.length > 0) lines.push('', ...meta.notes.map((n) => `- note: ${n}`));
  return lines.join('\n');
}

/** Rewrites the tick section of docs/performance.md (between its bench:tick markers). */
export function writeTickDoc(report: string): void {
  replaceDocSection('<!-- bench:tick:begin -->', '<!-- bench:tick:end -->', report);
}

/** Replaces what docs/performance.md holds between the markers `begin` and `end`. */
export function replaceDocSection(begin: string, end: string, report: string): void {
  const docPath = `${here}/../docs/performance.md`;
  const doc = readFileSync(docPath, 'utf8');
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${docPath} has no ${begin} … ${end} section`);
  writeFileSync(docPath, `${doc.slice(0, from + begin.length)}\n${report}\n${doc.slice(to)}`);
  console.log(`updated ${docPath}`);
}
