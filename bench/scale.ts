// `npm run bench:scale` (issue 18, "scale in one process"): one server process holds
// SCALE_CHANNELS idle channels (default 19,000, under the 20,000 descriptors a process gets
// here), a third each WebSocket, SSE and poll sessions of the client library, heartbeats at
// their default (25 s). Reports the server's RSS and heap per channel of each transport, the
// CPU the idle channels take (heartbeats, poll renewals), and how long one broadcast takes to
// reach them all. Server on core 0, the load generators (one a transport) on core 1.
//
//   SCALE_CHANNELS=19000   channels in all (a third each transport)
//   SCALE_IDLE_MS=60000    the idle window the CPU is measured over (covers two heartbeats)
//   SCALE_BROADCASTS=3     broadcasts timed, 3 s apart
//   SCALE_TRANSPORTS=websocket,sse,poll   which transports (the channels are shared among them)
import { setTimeout as sleep } from 'node:timers/promises';
import { start, stop, type Child } from './children.js';

const total = Number(process.env.SCALE_CHANNELS ?? 19_000);
const idleMs = Number(process.env.SCALE_IDLE_MS ?? 60_000);
const broadcasts = Number(process.env.SCALE_BROADCASTS ?? 3);
const transports = (process.env.SCALE_TRANSPORTS?.split(',') ?? ['websocket', 'sse', 'poll']) as Array<'websocket' | 'sse' | 'poll'>;

interface Mem {
  rss: number;
  heap: number;
  external: number;
}

const kib = (bytes: number): string => (bytes / 1024).toFixed(1);

async function main(): Promise<void> {
  const ignore = (): void => undefined;
  const server: Child = start('scale-server.ts', [], 0, ['--expose-gc'], ignore);
  const { port } = (await server.next('ready')) as { port: number };
  // One load generator a transport: a transport slow to take a broadcast does not hold the others up.
  const generators = new Map<string, Child>();
  for (const transport of transports) {
    const child = start('scale-clients.ts', [`http://127.0.0.1:${port}`], 1, ['--max-old-space-size=8192'], ignore);
    await child.next('ready');
    generators.set(transport, child);
  }
  const everyGenerator = [...generators.values()];
  try {
    let before = await server.request<Mem>({ op: 'mem' });
    const rows: string[] = [];
    const per = Math.floor(total / transports.length);
    for (const transport of transports) {
      const opened = performance.now();
      const { failed } = await (generators.get(transport) as Child).request<{ failed: number }>({ op: 'open', transport, count: per }, 600_000);
      const openSeconds = (performance.now() - opened) / 1000;
      await sleep(2000); // let the last handshakes' garbage go before measuring
      const after = await server.request<Mem>({ op: 'mem' });
      const n = per - failed;
      rows.push(`| ${transport} | ${n} | ${kib((after.rss - before.rss) / n)} | ${kib((after.heap - before.heap) / n)} | ${kib((after.external - before.external) / n)} | ${(n / openSeconds).toFixed(0)} |`);
      before = after;
    }
    console.log(`\n${per * transports.length} idle channels in one process (${per} each):\n`);
    console.log('| transport | channels | RSS KiB/channel | heap KiB/channel | external KiB/channel | opened/s |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) console.log(row);
    const mem = await server.request<Mem & { open: Record<string, number> }>({ op: 'mem' });
    console.log(`\nserver total: RSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB, heap ${(mem.heap / 2 ** 20).toFixed(0)} MiB; open ${JSON.stringify(mem.open)}`);

    const cpu0 = await server.request<{ cpuUs: number; at: number }>({ op: 'cpu' });
    await sleep(idleMs);
    const cpu1 = await server.request<{ cpuUs: number; at: number }>({ op: 'cpu' });
    const share = (cpu1.cpuUs - cpu0.cpuUs) / 1000 / (cpu1.at - cpu0.at);
    console.log(`idle CPU over ${(idleMs / 1000).toFixed(0)} s (heartbeats every 25 s, polls renewed every 25 s): ${(share * 100).toFixed(2)} % of a core`);

    const lasts: number[] = [];
    const written: number[] = [];
    const p50s: number[] = [];
    for (let i = 0; i < broadcasts; i++) {
      const sent = await server.request<{ sentAt: number; reached: number; syncMs: number; writtenMs: number }>({ op: 'broadcast' });
      written.push(sent.writtenMs);
      const answers = await Promise.all(everyGenerator.map((g) => g.request<{ of: number; delays: number[] }>({ op: 'arrivals', sentAt: sent.sentAt }, 90_000)));
      const delays = answers.flatMap((a) => a.delays).sort((a, b) => a - b);
      const of = answers.reduce((n, a) => n + a.of, 0);
      const got = { p50: delays[Math.floor(delays.length / 2)] ?? NaN, last: delays.at(-1) ?? NaN };
      const perTransport = [...generators.keys()].map((transport, g) => {
        const mine = [...(answers[g] as { delays: number[] }).delays].sort((a, b) => a - b);
        return `${transport} ${mine[Math.floor(mine.length / 2)]?.toFixed(0)}/${mine.at(-1)?.toFixed(0)}`;
      });
      console.log(`broadcast ${i + 1}: ${sent.reached} members, ${sent.syncMs.toFixed(1)} ms in broadcast(), ${sent.writtenMs.toFixed(1)} ms until written to every socket; reached ${delays.length} of ${of}, median ${got.p50.toFixed(0)} ms, last ${got.last.toFixed(0)} ms (median/last: ${perTransport.join(', ')})`);
      lasts.push(got.last);
      p50s.push(got.p50);
      // Apart by more than the client's acknowledgement delay (1 s): each SSE client POSTs its
      // acknowledgement then, all of them in the same second, and a broadcast made during
      // that storm measures the storm.
      await sleep(3000);
    }
    lasts.sort((a, b) => a - b);
    written.sort((a, b) => a - b);
    console.log(`\nwritten to all ${total} sockets: median of ${broadcasts} runs ${written[Math.floor(written.length / 2)]?.toFixed(1)} ms (server side)`);
    p50s.sort((a, b) => a - b);
    console.log(`\none broadcast to all ${total}: median of ${broadcasts} runs, last arrival ${lasts[Math.floor(lasts.length / 2)]?.toFixed(0)} ms, median arrival ${p50s[Math.floor(p50s.length / 2)]?.toFixed(0)} ms`);
  } finally {
    for (const child of everyGenerator) await stop(child);
    await stop(server);
  }
}

await main();
