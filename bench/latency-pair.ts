// The added latency of a budget, paired: `node --import tsx bench/latency-pair.ts`. One
// server process holds two express-channel apps (flushInterval 0, and 2 or 10 ms), each with
// N WebSocket clients in a load generator of its own; single broadcasts alternate between
// the two (the order swapped every pair), each measured alone from the broadcast call to
// its last client. A machine that is busier for a while slows both sides of a pair alike,
// which separate runs (bench/tick.ts) cannot promise: there the p99 of one row moved by more
// than a budget between two runs.
//
// Environment: BENCH_CLIENTS=1000,5000, BENCH_PAIR_BUDGETS=ec-ws-f2,ec-ws-f10, BENCH_PAIR_PROBES=100.
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile, start, stop, type Child } from './children.js';
import type { ClientEvent } from './protocol.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const sizes = (process.env.BENCH_CLIENTS ?? '1000,5000').split(',').map(Number);
const budgets = (process.env.BENCH_PAIR_BUDGETS ?? 'ec-ws-f2,ec-ws-f10').split(',');
const probes = Number(process.env.BENCH_PAIR_PROBES ?? 100);
type Side = 'zero' | 'budget';

interface Outcome {
  budget: string;
  clients: number;
  zero: number[];
  withBudget: number[];
}

async function measure(budget: string, n: number): Promise<Outcome> {
  const waiters = new Map<number, (event: Extract<ClientEvent, { op: 'one' }>) => void>();
  const onEvent = (event: ClientEvent): void => {
    if (event.op === 'one') waiters.get(event.seq)?.(event);
  };
  const clients: Record<Side, Child> = { zero: start('client.ts', [], 1, [], onEvent), budget: start('client.ts', [], 1, [], onEvent) };
  const server = start('latency-server.ts', [budget], 0, [], () => {});
  try {
    const ports = (await server.next('ready')) as unknown as Record<Side, number>;
    for (const side of ['zero', 'budget'] as const) {
      await clients[side].next('ready');
      await clients[side].request({ op: 'connect', port: ports[side], path: '/live', kind: 'ws', n, concurrency: 200 }, 90_000);
      await clients[side].request({ op: 'mode', mode: 'latency', burst: 1 });
    }
    for (let waited = 0; ; waited += 20) {
      const count = await server.request<Record<Side, number>>({ op: 'count' });
      if (count.zero >= n && count.budget >= n) break;
      if (waited > 5000) throw new Error(`the server counts fewer than ${n} clients a side`);
      await sleep(20);
    }
    const latencies: Record<Side, number[]> = { zero: [], budget: [] };
    let seq = 1;
    for (let pair = 0; pair < probes; pair++) {
      const order: Side[] = pair % 2 === 0 ? ['zero', 'budget'] : ['budget', 'zero'];
      for (const side of order) {
        const mine = seq++;
        const got = new Promise<Extract<ClientEvent, { op: 'one' }>>((resolve) => waiters.set(mine, resolve));
        await server.request({ op: 'one', seq: mine, side });
        const probe = await Promise.race([got, sleep(10_000).then(() => undefined)]);
        waiters.delete(mine);
        if (probe === undefined) throw new Error(`probe ${mine} (${side}) did not reach all ${n} clients`);
        latencies[side].push((probe.last - probe.sentAt) / 1000);
      }
    }
    return { budget, clients: n, zero: latencies.zero.sort((a, b) => a - b), withBudget: latencies.budget.sort((a, b) => a - b) };
  } finally {
    await Promise.all([stop(clients.zero), stop(clients.budget), stop(server)]);
  }
}

const ms = (v: number): string => v.toFixed(1);
const signed = (v: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(1)}`;

const outcomes: Outcome[] = [];
for (const n of sizes) {
  for (const budget of budgets) {
    const outcome = await measure(budget, n);
    outcomes.push(outcome);
    const b = Number(budget.replace(/^.*-f/, ''));
    const added = percentile(outcome.withBudget, 99) - percentile(outcome.zero, 99);
    console.log(
      `${budget} at ${n}: p50 ${ms(percentile(outcome.zero, 50))} → ${ms(percentile(outcome.withBudget, 50))} ms, p99 ${ms(percentile(outcome.zero, 99))} → ` +
        `${ms(percentile(outcome.withBudget, 99))} ms: added p99 ${signed(added)} ms (target ≤ ${b + 5})`,
    );
  }
}

const lines = [
  `Paired, ${probes} single broadcasts a side, alternating (bench/latency-pair.ts).`,
  '',
  '| budget | clients | p50 at 0 ms | p50 with budget | p99 at 0 ms | p99 with budget | added p50 | added p99 | target (added p99) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];
for (const o of outcomes) {
  const b = Number(o.budget.replace(/^.*-f/, ''));
  const p = (list: number[], q: number): number => percentile(list, q);
  const added = p(o.withBudget, 99) - p(o.zero, 99);
  lines.push(
    `| ${b} ms | ${o.clients.toLocaleString('en-US')} | ${ms(p(o.zero, 50))} | ${ms(p(o.withBudget, 50))} | ${ms(p(o.zero, 99))} | ${ms(p(o.withBudget, 99))} | ` +
      `${signed(p(o.withBudget, 50) - p(o.zero, 50))} | ${signed(added)}${added <= b + 5 ? '' : ' ✗'} | ≤ ${b + 5} ms |`,
  );
}
const report = lines.join('\n');
console.log(`\n${report}`);
mkdirSync(`${here}/results`, { recursive: true });
writeFileSync(`${here}/results/latency-pair.md`, report);
