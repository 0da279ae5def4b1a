import { once } from 'node:events';
import { createServer, Server, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Live } from '../channels.js';
import { invalidArgument } from '../errors.js';
import { cutSocket } from './cut.js';
import { defaultTimeout, within } from './within.js';

/** Options of {@link TestScope.listen}. */
export interface ListenOptions {
  /** The app's `live`: attached to the server (unless `attach` is false) and closed after the test. */
  live?: Live;
  /**
   * Whether to call `live.attach(server)`. Pass false when the app attaches it itself.
   * @defaultValue `true`
   */
  attach?: boolean;
}

/** An app or a server listening on an ephemeral port of 127.0.0.1, for one test. */
export interface TestServer {
  /** The `http.Server` itself. */
  readonly server: Server;
  /** The ephemeral port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** `http://127.0.0.1:<port><path>` */
  url(path?: string): string;
  /** `ws://127.0.0.1:<port><path>` */
  wsUrl(path?: string): string;
  /** The sockets the server accepted and that are still open (a WebSocket's stays the same after its upgrade). */
  readonly sockets: ReadonlySet<Socket>;
  /**
   * Cuts every connection the server holds, as a network failure would (TCP reset): every
   * client, the client library's included, sees its connection fail. Returns how many.
   */
  cutConnections(): number;
}

/** Listens on 127.0.0.1:0; returns the server and its cleanup. */
export async function listen(target: RequestListener | Server, options: ListenOptions): Promise<{ served: TestServer; close: () => Promise<void> }> {
  if (typeof target !== 'function' && !(target instanceof Server)) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `listen() takes an app (a request listener) or an http.Server, got ${target === null ? 'null' : typeof target}`);
  }
  if (target instanceof Server && target.listening) {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', 'listen() takes an http.Server that is not listening yet: it listens on an ephemeral port of 127.0.0.1 itself');
  }
  const server = target instanceof Server ? target : createServer(target);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  if (options.live !== undefined && options.attach !== false) options.live.attach(server);
  server.listen(0, '127.0.0.1');
  await within(once(server, 'listening'), defaultTimeout, 'the server to listen on 127.0.0.1');
  const { port } = server.address() as AddressInfo;
  const served: TestServer = {
    server,
    port,
    sockets,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    wsUrl: (path = '') => `ws://127.0.0.1:${port}${path}`,
    cutConnections: () => {
      const open = [...sockets];
      for (const socket of open) cutSocket(socket);
      return open.length;
    },
  };
  return { served, close: () => closeServer(server, sockets, options.live) };
}

// live first, so every client is told of the shutdown (WebSocket 1001, SSE retry); then the
// sockets left (idle keep-alive ones) and the server.
async function closeServer(server: Server, sockets: Set<Socket>, live: Live | undefined): Promise<void> {
  try {
    if (live !== undefined) await within(live.close(), defaultTimeout, () => `live.close() (${live.channels.size} channels still open)`);
  } finally {
    const left = [...sockets];
    for (const socket of left) socket.destroy();
    server.closeAllConnections();
    const gone = Promise.all(left.map((socket) => (sockets.has(socket) ? once(socket, 'close') : undefined)));
    await within(gone, defaultTimeout, 'the server\'s sockets to close');
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
