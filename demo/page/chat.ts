// Rooms chat: the room list, the join form, messages, who is here (with each member's
// transport), and the composer. Sends through a function it is given: the page's connection.
// In the cluster demo each process sends its own part of "Here now", again and again: the
// panel shows them together and forgets a part its process stopped sending (it died). A tab
// whose session moved to another process is listed by the part that named it last.
import type { ChatLine, Member, RoomSummary } from '../messages.js';
import { byId, clock, h, hueOf, processChip, transportChip } from './dom.js';

export class ChatPanel {
  #room: string | undefined;
  #me = '';
  /** The name this tab last joined with (the form may hold another one, not yet sent). */
  #joinedAs = '';
  /** "Here now" by process ('' with one process), and when each part last came. */
  #parts = new Map<string, { members: Member[]; at: number }>();
  /** ms after which a process's part is forgotten (set from the metrics interval). */
  staleAfter = 3000;
  readonly #send: (message: object) => void;
  readonly #messages = byId<HTMLOListElement>('messages');
  readonly #members = byId<HTMLUListElement>('members');
  readonly #name = byId<HTMLInputElement>('name');
  readonly #roomInput = byId<HTMLInputElement>('room');
  readonly #say = byId<HTMLInputElement>('say');
  readonly #sayButton = byId<HTMLButtonElement>('say-button');

  constructor(send: (message: object) => void, name: string, room: string) {
    this.#send = send;
    this.#name.value = name;
    this.#roomInput.value = room;
    byId<HTMLFormElement>('join-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.join();
    });
    byId<HTMLFormElement>('say-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const text = this.#say.value.trim();
      if (text === '' || this.#room === undefined) return;
      this.#send({ type: 'say', text });
      this.#say.value = '';
    });
    byId('rooms').addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-room]');
      if (button === null) return;
      this.#roomInput.value = button.dataset.room ?? '';
      this.join();
    });
    this.#setRoom(undefined);
  }

  /** The public key the server gave this tab, to mark "you". */
  set me(key: string) {
    this.#me = key;
  }

  get name(): string {
    return this.#name.value.trim() || 'guest';
  }

  /** Where this tab is, as the server put it there: for a process that takes the session over. */
  get whereabouts(): { name: string; room: string | undefined } {
    return { name: this.#joinedAs || this.name, room: this.#room };
  }

  /** Asks to join the room in the form (again, on a new session). */
  join(): void {
    localStorage.setItem('demo-name', this.name);
    this.#joinedAs = this.name;
    this.#send({ type: 'join', room: this.#roomInput.value, name: this.name });
  }

  joined(room: string, history: ChatLine[]): void {
    if (room !== this.#room) this.#parts.clear();
    this.#setRoom(room);
    this.#messages.replaceChildren(...history.map((line) => this.#line(line)));
    if (history.length === 0) this.#messages.append(h('li', { class: 'empty' }, `No messages in #${room} yet. Open this page in another tab — pick a different transport there — and say hello.`));
    this.#scroll();
  }

  chat(line: ChatLine): void {
    if (line.room !== this.#room) return;
    this.#messages.querySelector('.empty')?.remove();
    this.#messages.append(this.#line(line));
    this.#scroll();
  }

  presence(room: string, part: Member[], process = ''): void {
    if (room !== this.#room) return;
    const now = Date.now();
    if (part.length === 0) this.#parts.delete(process);
    else this.#parts.set(process, { members: part, at: now });
    // A session is on one process: one that took it over lists it now, and the old process's
    // last part (it says nothing when a session moves away) must not list it too.
    const listed = new Set(part.map((m) => m.key));
    for (const [name, other] of this.#parts) {
      if (name !== process) other.members = other.members.filter((m) => !listed.has(m.key));
      if (other.members.length === 0 || (name !== '' && now - other.at > this.staleAfter)) this.#parts.delete(name);
    }
    const members = [...this.#parts.values()].flatMap((p) => p.members);
    byId('member-count').textContent = String(members.length);
    this.#members.replaceChildren(
      ...members.map((m) =>
        h('li', {}, this.#avatar(m.name), h('span', { class: 'member-name' }, m.name, m.key === this.#me ? h('span', { class: 'you' }, ' (you)') : null), m.process === undefined ? null : processChip(m.process), transportChip(m.transport)),
      ),
    );
  }

  rooms(rooms: RoomSummary[]): void {
    byId('rooms').replaceChildren(
      ...rooms.map((r) =>
        h('button', { type: 'button', class: 'room-pill', 'data-room': r.name, 'aria-pressed': String(r.name === this.#room), 'aria-label': `Join #${r.name}, ${r.members} here` }, `#${r.name}`, h('span', { class: 'room-count' }, String(r.members))),
      ),
    );
  }

  #setRoom(room: string | undefined): void {
    this.#room = room;
    byId('room-title').textContent = room === undefined ? 'Not in a room' : `#${room}`;
    this.#say.disabled = this.#sayButton.disabled = room === undefined;
    this.#say.placeholder = room === undefined ? 'Join a room to chat' : `Message #${room}`;
    for (const pill of byId('rooms').querySelectorAll<HTMLButtonElement>('button[data-room]')) pill.setAttribute('aria-pressed', String(pill.dataset.room === room));
  }

  #line(line: ChatLine): HTMLLIElement {
    const mine = line.key === this.#me;
    return h(
      'li',
      { class: mine ? 'line mine' : 'line' },
      this.#avatar(line.from),
      h('div', { class: 'bubble' }, h('div', { class: 'meta' }, h('b', {}, line.from), line.process === undefined ? null : processChip(line.process), transportChip(line.transport), h('time', { datetime: new Date(line.at).toISOString() }, clock(line.at))), h('p', {}, line.text)),
    );
  }

  #avatar(name: string): HTMLSpanElement {
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' }, name.slice(0, 1).toUpperCase());
    avatar.style.setProperty('--hue', String(hueOf(name)));
    return avatar;
  }

  #scroll(): void {
    this.#messages.scrollTop = this.#messages.scrollHeight;
  }
}
