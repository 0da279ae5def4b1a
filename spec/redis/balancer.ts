// A round-robin balancer with no stickiness, for the cluster specs: every HTTP request, and
// every WebSocket upgrade, goes to the next backend in turn, whatever session it belongs to.
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import { proxyUpgrade } from '../../demo/balancer.js';

export interface Balancer {
  url: string;
  /** Which backend (index) each request went to, in order. */
  routed: number[];
  /** Destroys every connection the balancer holds to clients and backends. */
  cut(): void;
  /** Each HTTP request: where it went, and its status (or error) and time, for failure messages. */
  history: string[];
}

export async function roundRobin(t: TestContext, ports: number[]): Promise<Balancer> {
  let next = 0;
  const routed: number[] = [];
  const history: string[] = [];
  const sockets = new Set<Socket | Duplex>();
  const track = (socket: Socket | Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const pick = (): number => {
    const backend = next++ % ports.length;
    routed.push(backend);
    return ports[backend] as number;
  };
  const server: Server = createServer((req, res) => {
    const port = pick();
    const started = Date.now();
    const entry = `${req.method} ${req.url?.replace(/ecs=[^&]+/, 'ecs=…')} → ${port}`;
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer: IncomingMessage) => {
      history.push(`${entry}: ${answer.statusCode} after ${Date.now() - started} ms`);
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (error) => {
      history.push(`${entry}: ${error.message} after ${Date.now() - started} ms`);
      res.destroy();
    });
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => proxyUpgrade(req, socket, head, { port: pick() }, track));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, routed, history, cut: () => sockets.forEach((s) => s.destroy()) };
}
