// The layer and cycle check of .dependency-cruiser.cjs (`npm run check:layers`): proven able
// to fail on a small tree with known violations, then run over lib/ to print what it finds.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cruise, format, type ICruiseOptions, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';

const root = resolve(import.meta.dirname, '..');

async function cruiseLib(baseDir: string, options: ICruiseOptions): Promise<ICruiseResult> {
  const { output } = await cruise(['lib'], { ...options, baseDir });
  assert.ok(typeof output === 'object', 'the cruise returns its result, not a report');
  return output;
}

/** One line per violation: `rule: from -> to`, or the cycle's path for a cycle. */
function describeViolation(v: IViolation): string {
  const path = v.cycle ? [v.from, ...v.cycle.map((step) => step.name)].join(' -> ') : `${v.from} -> ${v.to}`;
  return `${v.rule.name}: ${path}`;
}

describe('the layer check (.dependency-cruiser.cjs)', () => {
  let options: ICruiseOptions;
  let fixture: string;

  before(async () => {
    options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
    fixture = mkdtempSync(join(tmpdir(), 'express-channel-layers-'));
    const files: Record<string, string> = {
      'lib/errors.ts': 'export class ChannelError extends Error {}\n',
      // Allowed: transports builds on protocol and errors.
      'lib/transports/wire.ts': "import { frame } from '../protocol/frames.js';\nimport { ChannelError } from '../errors.js';\nexport const wire = [frame, ChannelError];\n",
      // An upward import (protocol -> channel) and a type-only Node built-in in protocol.
      'lib/protocol/frames.ts':
        "import type { IncomingHttpHeaders } from 'node:http';\nimport { channel } from '../channel/channel.js';\n" +
        'export type Headers = IncomingHttpHeaders;\nexport const frame = channel;\n',
      // A cycle carried by a type-only import, which still counts.
      'lib/channel/channel.ts': "import { host } from './host.js';\nexport const channel = host;\n",
      'lib/channel/host.ts': "import type { Channel } from './types.js';\nexport const host = 1;\nexport type Host = Channel;\n",
      'lib/channel/types.ts': "import type { Host } from './host.js';\nexport type Channel = { host: Host };\n",
    };
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(fixture, name)), { recursive: true });
      writeFileSync(join(fixture, name), text);
    }
  });

  after(() => rmSync(fixture, { recursive: true, force: true }));

  it('reports an upward import, a Node built-in in protocol/ and a type-only cycle, and nothing else', async () => {
    const { violations } = (await cruiseLib(fixture, options)).summary;
    const edges = violations.filter((v) => !v.cycle).map(describeViolation).sort();
    assert.deepEqual(edges, ['protocol-layer: lib/protocol/frames.ts -> lib/channel/channel.ts', 'protocol-no-node-builtins: lib/protocol/frames.ts -> http']);
    const cycles = violations.filter((v) => v.cycle);
    assert.ok(cycles.length > 0, 'the cycle is reported');
    for (const { rule, from, cycle = [] } of cycles) {
      assert.equal(rule.name, 'no-circular');
      assert.deepEqual(new Set([from, ...cycle.map((step) => step.name)]), new Set(['lib/channel/host.ts', 'lib/channel/types.ts']));
    }
  });

  it("prints the rule's comment with a violation, so its report says why", async () => {
    const report = await format(await cruiseLib(fixture, options), { outputType: 'err-long' });
    assert.match(String(report.output), /lib\/protocol\/ is the wire format, shared with the browser client/);
  });

  it('counts the type-only cycle only because tsPreCompilationDeps is on', async () => {
    const result = await cruiseLib(fixture, { ...options, tsPreCompilationDeps: false });
    assert.ok(!result.summary.violations.some((v) => v.rule.name === 'no-circular'));
  });

  it('runs over lib/ and prints what it finds there (what is left to fix)', async (t) => {
    const result = await cruiseLib(root, options);
    const sources = result.modules.map((m) => m.source);
    assert.ok(sources.includes('lib/index.ts') && sources.includes('lib/client/node.ts'), 'cruised all of lib/');
    const violations = result.summary.violations;
    t.diagnostic(`lib/: ${violations.length} layer/cycle violation(s); \`npm run check:layers\` is the gate`);
    for (const v of violations) t.diagnostic(describeViolation(v));
  });
});
