// Chat rooms: one express-channel group per room, the last messages of each room for whoever
// joins, and the member list ("presence") pushed whenever it changes, transports included.
// In the cluster demo each process knows its own members only: it pushes its part of each
// room's list (marked with its name) every interval, the page puts the parts together, and
// room sizes are counted across processes with `group.count()`.
import type { Channel, ChannelGroup, Live, Message } from '../lib/index.js';
import { limits, type ChatLine, type Member, type RoomSummary, type ServerMessage } from './messages.js';

/** One browser tab: its session channel and what the demo knows about it. */
export interface Peer {
  channel: Channel;
  /** A public handle for the channel (its id is a session secret). */
  key: string;
  name: string;
  room: string | undefined;
  /** Numbered messages sent to it so far. */
  ticks: number;
  /**
   * On a process that took the session over, until the tab said where it stands (`restore`):
   * its messages, handled once its name, room and numbering are back. No numbered message
   * goes out meanwhile.
   */
  held?: Message[] | undefined;
}

const historySize = 50;

/** In the cluster demo: this process's name, and where its own tabs' periodic updates go. */
export interface RoomsCluster {
  process: string;
  /** The tabs on this process. */
  audience: ChannelGroup;
}

export class Rooms {
  readonly #live: Live;
  readonly #everyone: ChannelGroup;
  readonly #defaults: readonly string[];
  readonly #members = new Map<string, Set<Peer>>();
  readonly #history = new Map<string, ChatLine[]>();
  /** The presence last pushed per room, to push only changes. */
  readonly #presence = new Map<string, string>();
  #lineId = 0;
  readonly #cluster: RoomsCluster | undefined;

  constructor(live: Live, everyone: ChannelGroup, defaults: readonly string[], cluster?: RoomsCluster) {
    this.#live = live;
    this.#everyone = everyone;
    this.#defaults = defaults;
    this.#cluster = cluster;
  }

  /** The default rooms and every room someone is in, with their sizes. */
  summary(): RoomSummary[] {
    const names = new Set([...this.#defaults, ...this.#members.keys()]);
    return [...names].map((name) => ({ name, members: this.#members.get(name)?.size ?? 0 }));
  }

  join(peer: Peer, room: string, name: string): void {
    this.leave(peer);
    peer.name = name;
    peer.room = room;
    let members = this.#members.get(room);
    if (members === undefined) this.#members.set(room, (members = new Set()));
    members.add(peer);
    this.#group(room).add(peer.channel);
    send(peer.channel, { type: 'joined', room, history: this.#history.get(room) ?? [] });
    this.#changed(room);
  }

  leave(peer: Peer): void {
    const room = this.#remove(peer);
    if (room === undefined) return;
    this.#group(room).delete(peer.channel);
    this.#changed(room);
  }

  /**
   * On a process that took the session over: puts the tab back in the room it says it is in.
   * Its channel is a member of the room's group already (named groups move with the session),
   * and it has the room's lines: it is only counted here again, and this process's part of
   * "Here now" now lists it. A room whose group it is not in is joined as usual.
   */
  restore(peer: Peer, room: string, name: string): void {
    if (!this.#group(room).has(peer.channel)) return this.join(peer, room, name);
    peer.name = name;
    peer.room = room;
    let members = this.#members.get(room);
    if (members === undefined) this.#members.set(room, (members = new Set()));
    members.add(peer);
    this.#changed(room);
  }

  /**
   * On the process a session moved away from ('moved'): forgets the tab without a word. It
   * has not left: its new process lists it from now on, and the page keeps each member in the
   * part of the process that listed it last.
   */
  forget(peer: Peer): void {
    this.#remove(peer);
  }

  say(peer: Peer, text: string): void {
    if (peer.room === undefined) return send(peer.channel, { type: 'problem', message: 'Join a room first.' });
    const line: ChatLine = { id: ++this.#lineId, room: peer.room, from: peer.name, key: peer.key, transport: peer.channel.transport, process: this.#cluster?.process, text, at: Date.now() };
    let history = this.#history.get(peer.room);
    if (history === undefined) this.#history.set(peer.room, (history = []));
    history.push(line);
    if (history.length > historySize) history.shift();
    this.#group(peer.room).broadcast(JSON.stringify({ type: 'chat', line } satisfies ServerMessage));
  }

  /**
   * Pushes the member lists that changed, e.g. because a session came back on another
   * transport. In the cluster demo: every list, so that tabs on other processes (new ones
   * too) keep this process's part, and the room sizes counted across the cluster.
   */
  refreshPresence(): void {
    for (const room of this.#members.keys()) this.#pushPresence(room);
    if (this.#cluster !== undefined) this.#pushClusterSummary(this.#cluster.audience).catch((error: unknown) => console.error('express-channel demo: room sizes', error));
  }

  /** Takes `peer` out of this process's members of its room; returns the room. */
  #remove(peer: Peer): string | undefined {
    const room = peer.room;
    if (room === undefined) return undefined;
    peer.room = undefined;
    const members = this.#members.get(room);
    members?.delete(peer);
    if (members?.size === 0) {
      this.#members.delete(room);
      // Rooms anyone can invent must not pile up: an empty one is forgotten, history too.
      if (!this.#defaults.includes(room)) this.#history.delete(room);
    }
    return room;
  }

  #changed(room: string): void {
    this.#pushPresence(room);
    // In the cluster demo this process's sizes are only its part: the next refresh counts all.
    if (this.#cluster === undefined) this.#everyone.broadcast(JSON.stringify({ type: 'rooms', rooms: this.summary() } satisfies ServerMessage));
  }

  async #pushClusterSummary(audience: ChannelGroup): Promise<void> {
    const rooms = await Promise.all(this.summary().map(async (r) => ({ name: r.name, members: await this.#group(r.name).count().catch(() => r.members) })));
    audience.broadcast(JSON.stringify({ type: 'rooms', rooms } satisfies ServerMessage));
  }

  #pushPresence(room: string): void {
    const process = this.#cluster?.process;
    const members: Member[] = [...(this.#members.get(room) ?? [])].map((p) => ({ key: p.key, name: p.name, transport: p.channel.transport, process }));
    const json = JSON.stringify({ type: 'presence', room, members, process } satisfies ServerMessage);
    if (this.#presence.get(room) === json && process === undefined) return;
    if (members.length === 0) this.#presence.delete(room);
    else this.#presence.set(room, json);
    this.#group(room).broadcast(json);
  }

  #group(room: string): ChannelGroup {
    return this.#live.group(`room:${room}`);
  }
}

/** A room name: lower-case letters, digits and dashes; undefined if nothing is left. */
export function roomName(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const name = input.trim().toLowerCase().replace(/^#/, '').replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, limits.room);
  return name === '' ? undefined : name;
}

/** A display name: trimmed, control characters out, bounded. */
export function displayName(input: unknown): string {
  const name = typeof input === 'string' ? input.replace(/\p{Cc}/gu, '').trim().slice(0, limits.name) : '';
  return name === '' ? 'guest' : name;
}

export function send(channel: Channel, message: ServerMessage): void {
  channel.send(JSON.stringify(message));
}
