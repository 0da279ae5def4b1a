// One client's reconnect, with the server's handshake pacing on (the default handshakeRate)
// and off: the pacer must cost nothing below its rate. The same seeded backoff drives both
// runs, so each pair of reconnects waited the same random delay and the difference is the
// server's. Run: node --import tsx bench/reconnect.ts
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { channels, type ChannelsOptions } from '../lib/index.js';
import { connect } from '../lib/client/node.js';
import { seeded } from '../spec/support/property.js';

const rounds = Number(process.env['ROUNDS'] ?? 40);

async function reconnectTimes(options: ChannelsOptions): Promise<number[]> {
  const live = channels(options);
  const app = express();
  app.use(live);
  app.get('/live', (req) => req.channel!.onReceive(() => undefined));
  const server: Server = createServer(app);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => (sockets.add(s), s.once('close', () => sockets.delete(s))));
  live.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
  const conn = connect(url, { transports: ['websocket'], random: seeded(7) });
  await new Promise((resolve) => conn.addEventListener('open', resolve, { once: true }));
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const reopened = new Promise((resolve) => conn.addEventListener('open', resolve, { once: true }));
    const cut = performance.now();
    for (const socket of sockets) socket.destroy();
    await reopened;
    times.push(performance.now() - cut);
  }
  conn.close();
  await live.close();
  server.close();
  return times;
}

const paced = await reconnectTimes({});
const unpaced = await reconnectTimes({ handshakeRate: Infinity });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const differences = paced.map((p, i) => p - (unpaced[i] as number));
console.log(`${rounds} reconnects of one WebSocket client (same seeded backoff in both runs)`);
console.log(`paced (handshakeRate 1500): mean ${mean(paced).toFixed(1)} ms`);
console.log(`unpaced (Infinity):         mean ${mean(unpaced).toFixed(1)} ms`);
console.log(`paired difference: mean ${mean(differences).toFixed(2)} ms, max ${Math.max(...differences).toFixed(2)} ms`);
