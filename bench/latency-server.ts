// The server process of the paired latency measurement (bench/latency-pair.ts): two
// express-channel apps in one process, one at flushInterval 0 and one with a budget, each on
// its own port with its own clients, so that single broadcasts to either can alternate and
// a busy machine slows both alike. `node --import tsx bench/latency-server.ts BUDGET_KIND`.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createBenchServer, type BenchServer } from './servers.js';
import { nowUs, payloadOf, type ServerKind } from './protocol.js';

const budgetKind = (process.argv[2] ?? 'ec-ws-f10') as ServerKind;
const payloadSize = Number(process.env.BENCH_PAYLOAD ?? 64);
const sides: Record<'zero' | 'budget', BenchServer> = { zero: createBenchServer('ec-ws'), budget: createBenchServer(budgetKind) };
for (const side of Object.values(sides)) side.server.listen(0, '127.0.0.1');
await Promise.all(Object.values(sides).map((side) => once(side.server, 'listening')));

type Request = { id: number; op: 'one'; seq: number; side: 'zero' | 'budget' } | { id: number; op: 'count' } | { id: number; op: 'exit' };

process.on('message', (message: Request) => {
  switch (message.op) {
    case 'one':
      sides[message.side].broadcast(payloadOf(message.seq, nowUs(), payloadSize));
      process.send?.({ id: message.id });
      break;
    case 'count':
      process.send?.({ id: message.id, zero: sides.zero.count(), budget: sides.budget.count() });
      break;
    case 'exit':
      void Promise.all(Object.values(sides).map((side) => side.close())).finally(() => {
        process.send?.({ id: message.id });
        setImmediate(() => process.exit(0));
      });
      break;
  }
});
process.on('disconnect', () => process.exit(0));

const port = (side: BenchServer): number => (side.server.address() as AddressInfo).port;
process.send?.({ op: 'ready', zero: port(sides.zero), budget: port(sides.budget) });
