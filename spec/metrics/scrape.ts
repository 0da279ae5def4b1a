// Reads the Prometheus text format the way a scraper does: one sample a line,
// `name{label="value",...} number`, comments skipped. Keys put the labels in name order.
export type Samples = Map<string, number>;

export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const [, name, labels, value] = match as unknown as [string, string, string | undefined, string];
    samples.set(sampleKey(name, parseLabels(labels ?? '')), Number(value));
  }
  return samples;
}

/** The key of a sample: `name` alone, or `name{a="1",b="2"}` with the labels sorted. */
export function sampleKey(name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return pairs.length === 0 ? name : `${name}{${pairs.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[match[1] as string] = match[2] as string;
  return labels;
}

/** The value of one sample; throws, naming what is there, when the scrape has none. */
export function sample(samples: Samples, name: string, labels?: Record<string, string>): number {
  const key = sampleKey(name, labels);
  const value = samples.get(key);
  if (value === undefined) throw new Error(`no sample ${key}; the scrape has: ${[...samples.keys()].filter((k) => k.startsWith(name)).join(', ') || 'nothing of that name'}`);
  return value;
}
