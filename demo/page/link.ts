// "Your connection": the transport in use and how it was reached (fallback), the status, a log
// of what the client did, the numbered-message check, and the button that cuts the link.
import type { Connection } from '../../lib/client/index.js';
import { byId, clock, h, processChip, transportChip } from './dom.js';

type Kind = 'info' | 'ok' | 'warn' | 'bad';

interface Delivery {
  /** Highest number the server is known to have sent. */
  sent: number;
  received: number;
  last: number;
  lost: number;
  twice: number;
}

export class LinkPanel {
  #conn: Connection | undefined;
  #delivery: Delivery = { sent: 0, received: 0, last: 0, lost: 0, twice: 0 };
  /** Set by a cut, cleared when the counters agree again. */
  #cut: { at: number; missing: number } | undefined;
  #lostAt: number | undefined;
  #reconnects = 0;
  #routeDone = false;
  /** The process holding this tab's session, in the cluster demo. */
  #process: string | undefined;
  /**
   * In the cluster demo, a WebSocket or SSE resume not logged yet: where it opened is known
   * only from the server's next word, a `resumed` welcome (another process took the session
   * over) or the answer to `where` (its own process took it back).
   */
  #resume: { transport: string; away: string } | undefined;
  readonly #status = byId('status');
  readonly #statusText = byId('status-text');
  readonly #route = byId('route');
  readonly #log = byId<HTMLOListElement>('log');
  readonly #cutButton = byId<HTMLButtonElement>('cut');

  constructor() {
    this.#cutButton.addEventListener('click', () => void this.#cutNow());
  }

  /** Follows a new connection: counters start again, since it is a new session. */
  watch(conn: Connection, description: string): void {
    this.#conn = conn;
    this.#delivery = { sent: 0, received: 0, last: 0, lost: 0, twice: 0 };
    this.#cut = undefined;
    this.#resume = undefined;
    this.#reconnects = 0;
    this.#route.replaceChildren();
    this.#routeDone = false;
    this.#setStatus('connecting', 'Connecting…');
    this.log(`Connecting (${description})`);
    conn.addEventListener('error', (e) => {
      if (this.#conn !== conn || e.transport === undefined) return;
      if (!this.#routeDone) this.#route.append(transportChip(e.transport, 'failed'), h('span', { class: 'arrow', 'aria-hidden': 'true' }, '→'));
      if (this.#routeDone) this.log(`Connection lost (${e.transport}: ${e.error.message})`, 'bad');
      else this.log(`${e.transport} failed to open: ${e.error.message}${elsewhere(e.error.status)}`, 'warn');
    });
    conn.addEventListener('transport', (e) => {
      if (this.#conn !== conn) return;
      this.log(e.previous === undefined ? `Using ${e.transport}` : `Switched from ${e.previous} to ${e.transport}`, 'ok');
    });
    conn.addEventListener('open', (e) => {
      if (this.#conn !== conn) return;
      if (!this.#routeDone) this.#route.append(transportChip(e.transport, 'current'));
      this.#routeDone = true;
      this.#setStatus('open', `Live over ${e.transport}`);
      byId('fact-transport').replaceChildren(transportChip(e.transport));
      if (e.resumed) {
        const away = this.#lostAt === undefined ? '' : ` after ${Math.round(performance.now() - this.#lostAt)} ms away`;
        if (this.#process !== undefined && e.transport !== 'poll') {
          this.#resume = { transport: e.transport, away };
          conn.send(JSON.stringify({ type: 'where' }));
        } else this.log(`Resumed the session on ${e.transport}${this.#where(e.transport)}${away}`, 'ok');
      } else this.log(`Session open on ${e.transport}`, 'ok');
      this.#lostAt = undefined;
    });
    conn.addEventListener('reconnecting', (e) => {
      if (this.#conn !== conn) return;
      this.#lostAt ??= performance.now();
      this.#reconnects += 1;
      byId('fact-reconnects').textContent = String(this.#reconnects);
      this.#route.replaceChildren();
      this.#routeDone = false;
      this.#setStatus('reconnecting', `Reconnecting (attempt ${e.attempt})…`);
      this.log(`Reconnecting in ${Math.round(e.delay)} ms (attempt ${e.attempt})`, 'warn');
    });
    conn.addEventListener('gap', (e) => {
      if (this.#conn !== conn) return;
      this.log(`The server no longer had messages ${e.first}–${e.last}: reported lost`, 'bad');
    });
    conn.addEventListener('close', (e) => {
      if (this.#conn !== conn) return;
      this.#setStatus('closed', e.sessionGone ? 'Session ended' : 'Closed');
      this.log(`Closed: ${e.reason}`, e.wasClean ? 'info' : 'bad');
    });
    this.#render();
  }

  /** The session's process, from its welcome (cluster demo only; undefined: one process). */
  servedBy(process: string | undefined): void {
    this.#process = process;
    byId('fact-process-row').hidden = process === undefined;
    if (process === undefined) return;
    byId('fact-process').replaceChildren(processChip(process));
    this.log(`The session is held by process ${process}; every request of it may reach any process`, 'info');
  }

  /**
   * Another process took the session over (a `resumed` welcome, after every message of the
   * old process): it serves the tab from now on.
   */
  takenOver(process: string | undefined): void {
    const from = this.#process;
    const resume = this.#resume;
    this.#resume = undefined;
    this.#process = process;
    if (process !== undefined) byId('fact-process').replaceChildren(processChip(process));
    const how = resume === undefined ? '' : ` on ${resume.transport}`;
    this.log(`Resumed the session${how} at process ${process} (taken over from ${from})${resume?.away ?? ''}`, 'ok');
    this.#caughtUp();
  }

  /** The answer to `where`: the process that serves the session. */
  servingProcess(process: string | undefined): void {
    const resume = this.#resume;
    if (resume === undefined) return; // told already, by a `resumed` welcome
    this.#resume = undefined;
    this.log(`Resumed the session on ${resume.transport} at process ${process}${resume.away}`, 'ok');
    this.#caughtUp();
  }

  /** The number of the last numbered message received: where the stream goes on after a takeover. */
  get lastTick(): number {
    return this.#delivery.last;
  }

  /** A numbered message from the server's stream. */
  tick(n: number): void {
    const d = this.#delivery;
    d.received += 1;
    if (n <= d.last) d.twice += 1;
    else if (n > d.last + 1) d.lost += n - d.last - 1;
    d.last = Math.max(d.last, n);
    d.sent = Math.max(d.sent, n);
    if (this.#resume === undefined) this.#caughtUp();
    this.#render();
  }

  /** Says so once every message sent while cut off arrived (after the line saying where the session resumed). */
  #caughtUp(): void {
    const d = this.#delivery;
    if (this.#cut === undefined || d.received < d.sent) return;
    this.log(`Caught up: the ${this.#cut.missing} messages sent while cut off all arrived, in order, none twice`, 'ok');
    this.#cut = undefined;
  }

  log(text: string, kind: Kind = 'info'): void {
    const at = Date.now();
    this.#log.prepend(h('li', { class: `log-${kind}` }, h('time', { datetime: new Date(at).toISOString() }, clock(at)), ' ', text));
    while (this.#log.children.length > 60) this.#log.lastElementChild?.remove();
  }

  // In the cluster demo a poll resume is forwarded to the session's process: polls reach
  // whichever process is next. (A WebSocket or SSE resume is logged once the server says
  // where it opened.)
  #where(transport: string): string {
    if (this.#process === undefined) return '';
    if (transport === 'poll') return ` (each poll reaches the next process, which forwards it to ${this.#process})`;
    return ` at process ${this.#process}`;
  }

  #setStatus(state: string, text: string): void {
    this.#status.dataset.state = state;
    this.#statusText.textContent = text;
    this.#cutButton.disabled = state !== 'open';
  }

  async #cutNow(): Promise<void> {
    const session = this.#conn?.sessionId;
    if (session === undefined) return;
    this.#cutButton.disabled = true;
    try {
      // Only the session's process can cut its sockets: the demo's balancer routes this one
      // request by name (and sends the channel's next request to another process).
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.#process !== undefined) headers['x-demo-process'] = this.#process;
      const response = await fetch('/api/cut', { method: 'POST', headers, body: JSON.stringify({ session }) });
      const answer = (await response.json()) as { cut?: number; sent?: number; message?: string };
      if (!response.ok || answer.sent === undefined) throw new Error(answer.message ?? `HTTP ${response.status}`);
      const d = this.#delivery;
      d.sent = Math.max(d.sent, answer.sent);
      this.#cut = { at: d.received, missing: d.sent - d.received };
      const where = this.#process === undefined ? 'the server' : `process ${this.#process}`;
      this.log(`Cut ${answer.cut ?? 0} socket(s) at ${where}; it sent up to #${answer.sent} meanwhile`, 'bad');
      this.#render();
    } catch (error) {
      this.log(`Could not cut the connection: ${String(error)}`, 'bad');
    }
  }

  #render(): void {
    const d = this.#delivery;
    byId('count-sent').textContent = String(d.sent);
    byId('count-received').textContent = String(d.received);
    byId('count-lost').textContent = String(d.lost);
    byId('count-twice').textContent = String(d.twice);
    const verdict = byId('verdict');
    const waiting = d.sent - d.received;
    if (d.lost > 0 || d.twice > 0) {
      verdict.dataset.state = 'bad';
      verdict.textContent = `${d.lost} lost, ${d.twice} twice`;
    } else if (waiting > 0) {
      verdict.dataset.state = 'waiting';
      verdict.textContent = `${waiting} on the way…`;
    } else {
      verdict.dataset.state = 'ok';
      verdict.textContent = d.received === 0 ? 'Waiting for the first message' : `All ${d.received} received, in order, once`;
    }
  }
}

// 421 / 4421 session-elsewhere: the cluster demo's balancer sent the resume to a process that
// does not hold the session and could not take it over (a session directory without
// takeover, docs/scaling.md); with the Redis adapter that process takes the session over.
function elsewhere(status: number | undefined): string {
  return status === 421 || status === 4421 ? ' — it reached a process that does not hold this session' : '';
}
