// What a broadcast costs Redis itself and the processes that receive it:
// `node --import tsx bench/redis-cost.ts` (REDIS_URL to change where Redis is).
//
// One publisher and S subscriber connections (S = 1, 3, 10: the processes of a cluster) on a
// channel of its own; M broadcasts, as redisAdapter encodes them (a 64-byte text), published
// 100 in flight at a time; Redis's CPU (INFO cpu, user + system) is read before and after.
// Redis is shared with other users, so its CPU figure includes whatever they asked of it
// meanwhile: the best of BENCH_REPEAT (3) runs is kept. Beside it, what decoding the adapter's
// envelope costs a receiving process (timed over 200,000 decodes in a loop; node-redis's own
// parsing of the reply is not included).
import { createClient, type RedisClientType } from 'redis';
import { decodeEnvelope, encodeEnvelope } from '../lib/redis/envelope.js';
import { newChannelId } from '../lib/channel/ids.js';
import { payloadOf } from './protocol.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const broadcasts = Number(process.env.BENCH_BROADCASTS ?? 20_000);
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const inFlight = 100;

async function redisCpuSeconds(redis: RedisClientType): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return field('used_cpu_user') + field('used_cpu_sys');
}

function client(): RedisClientType {
  const c = createClient({ url: redisUrl }) as RedisClientType;
  c.on('error', (error: unknown) => console.error('redis-cost:', error));
  return c;
}

/** Bytes on the wire for one PUBLISH and for each subscriber's copy (RESP2 framing). */
function wireBytes(channel: string, message: Buffer): { publish: number; perSubscriber: number } {
  const bulk = (n: number): number => `$${n}\r\n`.length + n + 2;
  return {
    publish: '*3\r\n'.length + bulk(7) + bulk(Buffer.byteLength(channel)) + bulk(message.length),
    perSubscriber: '*3\r\n'.length + bulk(7) + bulk(Buffer.byteLength(channel)) + bulk(message.length),
  };
}

interface Outcome {
  subscribers: number;
  redisUsPerBroadcast: number;
  broadcastsPerSec: number;
}

async function once(control: RedisClientType, subscribers: number): Promise<Outcome> {
  const channel = `bench-cost-${process.pid}-${Date.now().toString(36)}:broadcast`;
  const publisher = client();
  const subs = Array.from({ length: subscribers }, () => client());
  await Promise.all([publisher, ...subs].map((c) => c.connect()));
  const origin = newChannelId();
  const message = encodeEnvelope({ origin, group: 'g', payload: payloadOf(1_000_000, 0, 64), fields: {} }, 1_000_000);
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  try {
    await Promise.all(
      subs.map((s) =>
        s.subscribe(
          channel,
          () => {
            if (++received === broadcasts * subscribers) done();
          },
          true,
        ),
      ),
    );
    const cpu0 = await redisCpuSeconds(control);
    const wall0 = performance.now();
    for (let sent = 0; sent < broadcasts; sent += inFlight) {
      const batch: Promise<number>[] = [];
      for (let i = 0; i < inFlight && sent + i < broadcasts; i++) batch.push(publisher.publish(channel, message));
      await Promise.all(batch);
    }
    await all;
    const wall = performance.now() - wall0;
    const cpu1 = await redisCpuSeconds(control);
    return {
      subscribers,
      redisUsPerBroadcast: ((cpu1 - cpu0) * 1e6) / broadcasts,
      broadcastsPerSec: broadcasts / (wall / 1000),
    };
  } finally {
    await Promise.allSettled([...subs, publisher].map((c) => c.close()));
  }
}

const control = client();
await control.connect();
const message = encodeEnvelope({ origin: newChannelId(), group: 'g', payload: payloadOf(1_000_000, 0, 64), fields: {} }, 1_000_000);
const bytes = wireBytes('ec:broadcast', message);
console.log(`one broadcast of a 64-byte text: envelope ${message.length} bytes; PUBLISH ${bytes.publish} bytes in, ${bytes.perSubscriber} bytes out per subscribed process (prefix 'ec')`);
console.log(`${broadcasts} broadcasts per run, ${inFlight} in flight, best of ${repeat}`);
const best = new Map<number, Outcome>();
for (let rep = 0; rep < repeat; rep++) {
  for (const subscribers of [1, 3, 10]) {
    const o = await once(control, subscribers);
    const b = best.get(subscribers);
    if (b === undefined || o.redisUsPerBroadcast < b.redisUsPerBroadcast) best.set(subscribers, o);
  }
}
await control.close();
console.log('\n| subscribed processes | Redis CPU µs / broadcast | broadcasts/s (one publisher, 100 in flight, subscribers in the same Node process) |');
console.log('| ---: | ---: | ---: |');
for (const o of best.values()) console.log(`| ${o.subscribers} | ${o.redisUsPerBroadcast.toFixed(1)} | ${Math.round(o.broadcastsPerSec).toLocaleString('en-US')} |`);

const decodes = 200_000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < decodes; i++) decodeEnvelope(message);
console.log(`\nenvelope decode: ${(Number(process.hrtime.bigint() - t0) / 1000 / decodes).toFixed(2)} µs per broadcast received, per process`);
