// Summarizes a server's `--cpu-prof` profile written by `BENCH_PROFILE=KIND npm run bench`:
//   node --import tsx bench/profile.ts bench/profiles/ec-ws-5000.cpuprofile [broadcast|connect] [top]
// Only samples taken during the chosen phase count (default: broadcast), as the server noted
// them in FILE.window.json; V8's profile clock is the same monotonic clock as process.hrtime.
// Prints self time per function, inclusive time per function (what a call costs with
// everything below it), and self time per area (lib/, ws, express, node internals, GC).
import { existsSync, readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
if (file === undefined) throw new Error('usage: bench/profile.ts FILE.cpuprofile [broadcast|connect] [top]');
const phase = process.argv[3] ?? 'broadcast';
const top = Number(process.argv[4] ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const windowFile = `${file}.window.json`;
const phases = existsSync(windowFile) ? (JSON.parse(readFileSync(windowFile, 'utf8')) as Record<string, { from?: number; to?: number }>) : {};
const window = { from: phases[phase]?.from ?? -Infinity, to: phases[phase]?.to ?? Infinity };

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const lib = url.indexOf('/lib/');
  if (url.startsWith('file://') && lib >= 0) return url.slice(lib + 1);
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return url.slice(bench + 1);
  return url;
}

function key(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return url === '' ? functionName || '(anonymous)' : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
}

function area(node: ProfileNode): string {
  const url = node.callFrame.url;
  if (url === '') return node.callFrame.functionName; // (garbage collector), (program), (idle), native
  if (url.startsWith('node:')) return 'node internals (streams, net, http)';
  const s = shortUrl(url);
  if (s.startsWith('lib/')) return 'express-channel lib/';
  return s.split('/')[0]!;
}

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
let total = 0;
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  if (t < window.from || t > window.to) continue;
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const leaf = byId.get(profile.samples[i]!)!;
  total += dt;
  self.set(key(leaf), (self.get(key(leaf)) ?? 0) + dt);
  areas.set(area(leaf), (areas.get(area(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
    const k = key(byId.get(id)!);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
}

function print(title: string, map: Map<string, number>, n: number): void {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${((us / total) * 100).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${k}`);
  }
}

console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled${Number.isFinite(window.from) ? ` in phase '${phase}'` : ' (whole run)'}`);
print('self time by area', areas, 12);
print('self time by function', self, top);
print('inclusive time by function (express-channel lib/ only)', new Map([...inclusive].filter(([k]) => / lib\//.test(k))), top);
