// docs/examples/route.test.ts is a test of its own: importing it registers its tests here,
// so the example of docs/testing.md runs in npm test exactly as a user would run it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import '../docs/examples/route.test.js';

it('shows in docs/testing.md the test that docs/examples/route.test.ts runs, line for line', () => {
  const example = readFileSync(new URL('../docs/examples/route.test.ts', import.meta.url), 'utf8');
  const doc = readFileSync(new URL('../docs/testing.md', import.meta.url), 'utf8');
  const test = example.slice(example.indexOf('const scope = testScope(afterEach);')).trim();
  assert.ok(test.startsWith('const scope') && test.endsWith('});'));
  assert.ok(doc.includes(test), 'docs/testing.md does not show the test of docs/examples/route.test.ts as it is');
  const body = test.slice(test.indexOf('async () => {') + 'async () => {'.length, test.lastIndexOf('});')).trim().split('\n');
  assert.ok(body.length <= 10, `the test takes ${body.length} lines, the docs promise ten`);
});
