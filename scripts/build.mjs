// Builds ESM and CommonJS from the same sources. The `package.json` written into
// dist/cjs tells Node (and TypeScript) that the .js and .d.ts files there are CommonJS.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

const tsc = (project) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('tsconfig.build.json');
tsc('tsconfig.cjs.json');
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
await (await import('./build-client.mjs')).buildClient(); // browser bundle of express-channel/client
