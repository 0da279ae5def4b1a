// A live line/area chart drawn by hand in SVG: fixed time window, newest sample on the right,
// optional stacking, a y-axis that rounds to nice numbers, and a legend with current values.
// The rendered data is mirrored in data-* attributes so tests (and curious readers) can see it.
import { h } from './dom.js';

export interface Series {
  key: string;
  label: string;
  /** A CSS colour. */
  color: string;
}

export interface ChartOptions {
  series: readonly Series[];
  /** Areas stacked on each other (counts) rather than overlapping lines (rates). */
  stacked?: boolean;
  /** Samples shown across the width. @defaultValue 60 */
  window?: number;
  /** Seconds between samples, for the time axis. @defaultValue 1 */
  step?: number;
}

export type Sample = Record<string, number>;

const svgNs = 'http://www.w3.org/2000/svg';
const pad = { left: 34, right: 8, top: 10, bottom: 20 };

export class LiveChart {
  readonly #svg: SVGSVGElement;
  readonly #legend: HTMLElement;
  readonly #options: Required<ChartOptions>;
  #samples: Sample[] = [];
  #updates = 0;

  constructor(svg: SVGSVGElement, legend: HTMLElement, options: ChartOptions) {
    this.#svg = svg;
    this.#legend = legend;
    this.#options = { stacked: false, window: 60, step: 1, ...options };
    new ResizeObserver(() => this.#render()).observe(svg);
  }

  /** Replaces every sample (e.g. the history a new viewer gets). */
  reset(samples: Sample[]): void {
    this.#samples = samples.slice(-this.#options.window);
    this.#render();
  }

  /** Seconds between samples (the server says how often it samples). */
  set step(seconds: number) {
    this.#options.step = seconds;
  }

  push(sample: Sample): void {
    this.#updates += 1;
    this.#samples.push(sample);
    if (this.#samples.length > this.#options.window) this.#samples.shift();
    this.#render();
  }

  #render(): void {
    const { series, stacked, window } = this.#options;
    const width = Math.max(this.#svg.clientWidth, 120);
    const height = Math.max(this.#svg.clientHeight, 80);
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    // Each series' top edge: its own value, or the running sum when stacked.
    const tops = series.map(() => [] as number[]);
    for (const sample of this.#samples) {
      let sum = 0;
      series.forEach((s, i) => {
        const value = sample[s.key] ?? 0;
        sum = stacked ? sum + value : value;
        tops[i]!.push(sum);
      });
    }
    const max = niceCeiling(Math.max(0, ...tops.flat()));
    const x = (i: number) => pad.left + plotW * ((window - this.#samples.length + i) / Math.max(window - 1, 1));
    const y = (v: number) => pad.top + plotH * (1 - v / max);

    const nodes: SVGElement[] = [];
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      nodes.push(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }));
      nodes.push(svg('text', { x: pad.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, format(v)));
    }
    const span = (window - 1) * this.#options.step;
    for (const [at, anchor] of [[0, 'start'], [0.5, 'middle'], [1, 'end']] as const) {
      const label = at === 1 ? 'now' : `−${Math.round(span * (1 - at))} s`;
      nodes.push(svg('text', { x: pad.left + plotW * at, y: height - 4, class: 'axis', 'text-anchor': anchor }, label));
    }
    // Draw the last series first so that, stacked, each area sits under the one above it.
    for (let i = series.length - 1; i >= 0; i--) {
      const s = series[i]!;
      const top = tops[i]!;
      if (top.length === 0) continue;
      const base = stacked && i > 0 ? tops[i - 1]! : top.map(() => 0);
      const line = top.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`);
      const under = base.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).reverse();
      nodes.push(svg('polygon', { points: [...line, ...under].join(' '), fill: s.color, class: stacked ? 'area stacked' : 'area' }));
      nodes.push(svg('polyline', { points: line.join(' '), stroke: s.color, class: 'line' }));
    }
    this.#svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.#svg.replaceChildren(...nodes);
    this.#describe();
  }

  /** Legend with current values, the accessible summary, and the data-* mirror. */
  #describe(): void {
    const last = this.#samples.at(-1) ?? {};
    const parts = this.#options.series.map((s) => `${s.label} ${format(last[s.key] ?? 0)}`);
    this.#legend.replaceChildren(
      ...this.#options.series.map((s) => {
        // CSSOM, not a style attribute: the page's CSP allows no inline styles.
        const swatch = h('span', { class: 'swatch' });
        swatch.style.background = s.color;
        return h('span', { class: 'legend-item' }, swatch, `${s.label} `, h('b', {}, format(last[s.key] ?? 0)));
      }),
    );
    this.#svg.setAttribute('aria-label', `${this.#svg.dataset.title ?? 'Chart'}, last minute. Now: ${parts.join(', ')}.`);
    this.#svg.dataset.samples = String(this.#samples.length);
    this.#svg.dataset.updates = String(this.#updates);
    this.#svg.dataset.last = JSON.stringify(last);
  }
}

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** Four gridline steps of 1, 2 or 5×10^n covering `value` (at least 4, so an idle chart still has a scale). */
function niceCeiling(value: number): number {
  const quarter = Math.max(value / 4, 1);
  const magnitude = 10 ** Math.floor(Math.log10(quarter));
  const step = [1, 2, 5, 10].find((s) => s * magnitude >= quarter) ?? 10;
  return 4 * step * magnitude;
}

function format(value: number): string {
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
