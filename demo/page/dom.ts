// Tiny DOM helpers: the dashboard needs no framework.

type Child = Node | string | null | undefined | false;

/** Creates an element with attributes (`class`, `aria-*`, `data-*`…) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children) if (child) el.append(child);
  return el;
}

/** The element with this id; throws if the page lacks it (a broken page should say so). */
export function byId<T extends Element = HTMLElement>(id: string): T {
  const el: Element | null = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from the page`);
  return el as T;
}

/** A small coloured label for a transport name. */
export function transportChip(transport: string, extra = ''): HTMLSpanElement {
  return h('span', { class: `chip chip-${transport} ${extra}`.trim() }, transport);
}

/** A small label for the process of the cluster demo that holds a session. */
export function processChip(label: string): HTMLSpanElement {
  return h('span', { class: 'chip chip-process', title: `on process ${label}` }, label);
}

/** hh:mm:ss in the viewer's locale. */
export function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A stable hue for a name, for avatars. */
export function hueOf(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
  return hash % 360;
}
