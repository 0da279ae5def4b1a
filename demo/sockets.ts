// What the "Cut connection" button needs: the TCP sockets that carry a session right now, so
// the server can destroy them the way a dropped Wi-Fi link or a proxy restart would (no close
// frame, no goodbye). The session itself stays: the client comes back and resumes it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export class SessionSockets {
  /** The session each socket's latest request belonged to (null: none). */
  readonly #owner = new WeakMap<Socket, string | null>();
  readonly #sockets = new Map<string, Set<Socket>>();

  /**
   * Middleware, mounted before everything else so it sees every request, upgrades too: notes
   * which session (`ecs`) a socket now carries. Keep-alive sockets move between sessions, and
   * a socket whose latest request was not a session's is never cut.
   */
  readonly track = (req: IncomingMessage, _res: ServerResponse, next: () => void): void => {
    const ecs = sessionParam(req.url);
    this.remember(req.socket, ecs === undefined || ecs === 'new' ? null : ecs);
    next();
  };

  /** Records that `socket` carries `session` (the route calls it for `ecs=new`). */
  remember(socket: Socket, session: string | null): void {
    const previous = this.#owner.get(socket);
    this.#owner.set(socket, session);
    if (previous != null && previous !== session) this.#forget(previous, socket);
    if (session === null || previous === session) return;
    let set = this.#sockets.get(session);
    if (set === undefined) this.#sockets.set(session, (set = new Set()));
    set.add(socket);
    socket.once('close', () => this.#forget(session, socket));
  }

  /** Destroys every socket now carrying `session`; returns how many. */
  cut(session: string): number {
    const set = this.#sockets.get(session);
    if (set === undefined) return 0;
    let count = 0;
    for (const socket of [...set]) {
      if (this.#owner.get(socket) !== session) continue;
      socket.destroy();
      count++;
    }
    return count;
  }

  #forget(session: string, socket: Socket): void {
    const set = this.#sockets.get(session);
    set?.delete(socket);
    if (set?.size === 0) this.#sockets.delete(session);
  }
}

function sessionParam(url: string | undefined): string | undefined {
  const query = url?.indexOf('?') ?? -1;
  if (url === undefined || query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1)).get('ecs') ?? undefined;
}
