// Every tab's copy of the session's outbox: the sends of all tabs that the leader queued and
// the server has not acknowledged, numbered as the leader's outbox numbers them. Kept by every
// tab from the leader's `queued`, `released` and `dropped`, so that the tab that takes over
// resumes with the same outbox: the server's count (the hello's `received`) then says which
// of them it already has, and nothing is sent twice or lost.
import type { Outbox } from '../outbox.js';
import type { QueuedSend } from './tab-messages.js';

export class Replica {
  /** The sends queued, from client sequence number `first` on. */
  #queued: QueuedSend[] = [];
  /** The client sequence number the next queued send gets. */
  nextSeq = 1;
  /** Per tab, the highest `n` queued. */
  readonly sentBy = new Map<string, number>();

  get queued(): readonly QueuedSend[] {
    return this.#queued;
  }

  /** Takes the leader's state, from a welcome. */
  reset(nextSeq: number, queued: QueuedSend[], sentBy: [string, number][]): void {
    this.#queued = queued;
    this.nextSeq = nextSeq;
    for (const [tab, n] of sentBy) this.sentBy.set(tab, Math.max(n, this.sentBy.get(tab) ?? 0));
  }

  /** True when `tab`'s `n`-th send is the next one of it to queue. */
  expects(tab: string, n: number): boolean {
    return n === (this.sentBy.get(tab) ?? 0) + 1;
  }

  queue(send: QueuedSend): void {
    if (send.seq < this.nextSeq) return; // told twice (a welcome, then the queued it snapshot)
    this.#queued.push(send);
    this.nextSeq = send.seq + 1;
    this.sentBy.set(send.tab, Math.max(send.n, this.sentBy.get(send.tab) ?? 0));
  }

  /** What the leader's outbox did: the server delivered sends up to `received`, or will never take send `seq` (later ones move up). */
  apply(change: { t: 'released'; received: number } | { t: 'dropped'; seq: number }): void {
    if (change.t === 'released') {
      this.#queued = this.#queued.filter((send) => send.seq > change.received);
      return;
    }
    const { seq } = change;
    this.#queued = this.#queued.filter((send) => send.seq !== seq).map((send) => (send.seq > seq ? { ...send, seq: send.seq - 1 } : send));
    this.nextSeq -= 1;
  }

  /** `tab`'s sends still waiting for the server. */
  countOf(tab: string): number {
    return this.#queued.reduce((count, send) => count + (send.tab === tab ? 1 : 0), 0);
  }

  /** An outbox holding what is queued, numbered the same: what a new leader's connection starts from. */
  toOutbox<T extends Outbox>(make: (first: number) => T): T {
    const outbox = make(this.#queued[0]?.seq ?? this.nextSeq);
    for (const send of this.#queued) outbox.push(send.data);
    return outbox;
  }
}
