// The cluster demo's load balancer: plain round robin, no stickiness. Every request and every
// WebSocket upgrade of the channel (/live) goes to the next process in turn, whatever session
// it belongs to, so a session's requests really do land on every process. The page's files
// take turns on a counter of their own, so that loading a page does not decide which process
// the next tab's session opens on (two tabs opened one after the other land on two processes).
// One exception, for the cut button only: a request that names a process (x-demo-process)
// goes there, since only the process that holds a session can cut its sockets; the channel's
// next turn then goes to the process after it, so the reconnection lands elsewhere.
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Backend {
  /** What the page shows, e.g. `p1`. */
  label: string;
  port: number;
  /** Its process id. */
  pid: number | undefined;
  /** False once its process has exited: it is skipped. */
  alive: boolean;
}

export interface Balancer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

const channelPath = /^\/live(\?|$)/;

export async function startBalancer(backends: Backend[], port: number, host: string): Promise<Balancer> {
  const turns = { channel: 0, files: 0 };
  const sockets = new Set<Socket | Duplex>();
  const track = (socket: Socket | Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const pick = (req: IncomingMessage): Backend | undefined => {
    const named = backends.findIndex((b) => b.alive && b.label === req.headers['x-demo-process']);
    if (named >= 0) {
      turns.channel = named + 1;
      return logged(req, backends[named]);
    }
    const kind = channelPath.test(req.url ?? '') ? 'channel' : 'files';
    for (let tried = 0; tried < backends.length; tried++) {
      const backend = backends[turns[kind]++ % backends.length];
      if (backend?.alive) return logged(req, backend);
    }
    return undefined;
  };
  const server = createServer((req, res) => proxyRequest(req, res, pick(req)));
  server.on('connection', track);
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => proxyUpgrade(req, socket, head, pick(req), track));
  server.listen(port, host);
  await once(server, 'listening');
  return {
    server,
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** DEMO_BALANCER_LOG=1 prints where each request goes (a session's id is shortened: it is a secret). */
function logged(req: IncomingMessage, backend: Backend | undefined): Backend | undefined {
  if (process.env.DEMO_BALANCER_LOG === '1') console.log(`balancer: ${req.method} ${req.url?.replace(/ecs=([\w-]{4})[\w-]+/, 'ecs=$1…')} → ${backend?.label}`);
  return backend;
}

function proxyRequest(req: IncomingMessage, res: ServerResponse, backend: Backend | undefined): void {
  if (backend === undefined) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('No demo process is running.\n');
  const upstream = request({ host: '127.0.0.1', port: backend.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  // The process cut the connection (the cut button) or died: so does the balancer, as a
  // network would, rather than answering something the process never said.
  upstream.on('error', () => res.destroy());
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}

/** Pipes a WebSocket upgrade to `backend` as it came (request line, raw headers, head bytes); spec/redis/balancer.ts uses it too. */
export function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, backend: Pick<Backend, 'port'> | undefined, track: (s: Socket | Duplex) => void): void {
  if (backend === undefined) return void socket.destroy();
  track(socket);
  const upstream = connect(backend.port, '127.0.0.1');
  track(upstream);
  socket.on('error', () => upstream.destroy());
  upstream.on('error', () => socket.destroy());
  socket.once('close', () => upstream.destroy());
  upstream.once('close', () => socket.destroy());
  upstream.on('connect', () => {
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
}
