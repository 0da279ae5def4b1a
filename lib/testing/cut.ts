import type { Socket } from 'node:net';

/**
 * Cuts a connection as the network would: no close frame, no FIN, a TCP reset. The peer
 * learns of it by an `ECONNRESET`, as it does when a route's NAT forgets it or a proxy dies.
 * (Node's `resetAndDestroy`; a socket not yet connected is simply destroyed.)
 */
export function cutSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // A reset needs a connection still open both ways: on a socket half-closed already (its
  // response ended), Node 20 never completes resetAndDestroy and keeps the process alive.
  const open = !socket.connecting && socket.readyState === 'open' && !socket.readableEnded && !socket.writableEnded;
  if (open && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}
