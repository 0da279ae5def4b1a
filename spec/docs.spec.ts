// The API reference build (scripts/docs.mjs, run by npm test) refuses what it promises to
// refuse: an undocumented export, a broken {@link}, a type used but not exported, and a
// guide's link to nothing. (npm test builds the real reference itself; these prove it can fail.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
// @ts-expect-error a plain .mjs script, without declarations
import { brokenLinks } from '../scripts/docs.mjs';

const root = resolve(import.meta.dirname, '..');
const findBroken = brokenLinks as (guides: string[]) => string[];

describe('the API reference build', () => {
  it('fails on an undocumented export, a broken {@link} and a type not exported, naming each', () => {
    const out = mkdtempSync(join(tmpdir(), 'express-channel-api-'));
    try {
      const typedoc = spawnSync(
        process.execPath,
        ['node_modules/typedoc/bin/typedoc', '--options', 'spec/fixtures/docs/typedoc.json', '--out', out, '--logLevel', 'Warn'],
        { cwd: root, encoding: 'utf8', timeout: 120_000 },
      );
      const output = (typedoc.stdout + typedoc.stderr).replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
      assert.notEqual(typedoc.status, 0, output);
      assert.match(output, /undocumented \(CallSignature\).* does not have any documentation/);
      assert.match(output, /Failed to resolve link to "nowhere" in comment for linked/);
      assert.match(output, /Hidden, defined in .*, is referenced by leaks.* but not included in the documentation/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('finds the links of a guide that lead to no file or to no heading', () => {
    const dir = mkdtempSync(join(tmpdir(), 'express-channel-guides-'));
    try {
      writeFileSync(join(dir, 'a.md'), '# A page\n\n## Its part\n\nSee [b](b.md), [the part](#its-part), [a gone part](#gone), [the api](api/x.html) and [a site](https://example.com).\n\n```md\n[in code](nowhere.md)\n```\n');
      writeFileSync(join(dir, 'b.md'), '# B\n\nBack to [a](a.md#a-page).\n');
      assert.deepEqual(findBroken([join(dir, 'a.md'), join(dir, 'b.md')]), [`${join(dir, 'a.md')}: #gone (no such heading)`, `${join(dir, 'a.md')}: api/x.html (no such file)`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
