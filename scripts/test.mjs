// Runs every spec file with Node's test runner. Node 20 does not expand globs in
// `node --test`, so the files are listed here and passed explicitly.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const only = process.argv.slice(2);
const files = only.length > 0 ? only : listSpecs('spec');
const args = ['--import', 'tsx', '--expose-gc', '--test', '--test-concurrency=1', '--test-timeout=120000', ...files];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);

function listSpecs(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((name) => name.endsWith('.spec.ts'))
    .sort()
    .map((name) => join(dir, name));
}
