// Polling, where socket.io's long-polling transport is the anchor users compare with:
// express-channel's 'poll' session transport against it, each driven by its library's own
// client (bench/poll-client.ts), at 500 and 2,000 clients. Run by bench/run.ts (BENCH_POLL);
// the table goes to bench/results/poll.md and, with BENCH_DOC=1, to docs/performance.md.
import { pollRows, type Row } from './protocol.js';
import type { Result } from './report.js';
import { replaceDocSection } from './tick.js';

/** Every polling row by default, the named ones under BENCH_ROWS, none with BENCH_POLL=0. */
export function pollWanted(only: readonly string[] | undefined): readonly Row[] {
  if (process.env.BENCH_POLL === '0') return [];
  return only === undefined ? pollRows : pollRows.filter((r) => only.includes(r.kind));
}

/** Client counts of the polling rows (BENCH_POLL_CLIENTS). */
export function pollSizes(quick: boolean): number[] {
  return process.env.BENCH_POLL_CLIENTS?.split(',').map(Number) ?? (quick ? [200] : [500, 2000]);
}

/**
 * Broadcasts as in the one-per-tick rows (one a round, 80 in flight): a poll then carries
 * what queued since the last one, for both libraries alike.
 */
export function pollLoad(quick: boolean): { burst: number; window: number; probes: number } {
  return { burst: 1, window: Number(process.env.BENCH_POLL_WINDOW ?? 80), probes: quick ? 10 : 20 };
}

const int = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '–');
const fixed = (v: number, digits: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '–');

export function formatPoll(
  results: readonly Result[],
  meta: { machine: string; load: { window: number; probes: number }; notes: readonly string[]; date: string; repeat: number },
): string {
  const lines: string[] = [
    `Run ${meta.date} on ${meta.machine}.`,
    '',
    `Settings: one broadcast per tick, ${meta.load.window} broadcasts in flight, ${process.env.BENCH_PAYLOAD ?? 64}-byte payload, ` +
      `${meta.load.probes} latency probes (single broadcasts, the server otherwise idle), best of ${meta.repeat} run${meta.repeat === 1 ? '' : 's'}.`,
    '',
    '| server | clients | deliveries/s | deliveries / server CPU-s | server CPU | client CPU | other load (cores) | connects/s | delivery p50 ms | delivery p99 ms | KiB / idle client (heap+ext) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.label}${r.closed > 0 ? ` (${r.closed} closed!)` : ''} | ${int(r.clients)} | ${int(r.deliveriesPerSec)} | ${int(r.deliveriesPerCpuSec)} | ${fixed(r.serverCpu * 100, 0)} % | ` +
        `${fixed(r.clientCpu * 100, 0)} % | ${fixed(r.otherCpu, 1)} | ${int(r.connectsPerSec)} | ${fixed(r.latencyP50, 1)} | ${fixed(r.latencyP99, 1)} | ${fixed(r.memPerChannel / 1024, 1)} |`,
    );
  }
  const sizes = [...new Set(results.map((r) => r.clients))].sort((a, b) => a - b);
  const cells = (kind: 'ec-poll' | 'ec-poll-f10'): string[] =>
    sizes.map((n) => {
      const a = results.find((r) => r.kind === kind && r.clients === n);
      const b = results.find((r) => r.kind === 'socketio-poll' && r.clients === n);
      if (a === undefined || b === undefined) return '–';
      const v = a.deliveriesPerCpuSec / b.deliveriesPerCpuSec;
      return `${v.toFixed(2)}×${v >= 2 ? '' : ' ✗'} (wall ${(a.deliveriesPerSec / b.deliveriesPerSec).toFixed(2)}×; p50 latency ${(a.latencyP50 / b.latencyP50).toFixed(2)}×)`;
    });
  lines.push(
    '',
    `| deliveries per server CPU-second vs socket.io polling | ${sizes.map((n) => `${int(n)} clients`).join(' | ')} | target |`,
    `| --- | ${sizes.map(() => '---:').join(' | ')} | --- |`,
    `| express-channel poll, flushInterval 0 | ${cells('ec-poll').join(' | ')} | ≥ 2× |`,
    `| express-channel poll, flushInterval 10 | ${cells('ec-poll-f10').join(' | ')} | ≥ 2× |`,
  );
  if (meta.notes.length > 0) lines.push('', ...meta.notes.map((n) => `- note: ${n}`));
  return lines.join('\n');
}

/** Rewrites the polling section of docs/performance.md. */
export function writePollDoc(report: string): void {
  replaceDocSection('<!-- bench:poll:begin -->', '<!-- bench:poll:end -->', report);
}
