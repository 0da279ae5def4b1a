// Builds the browser bundle of express-channel/client: one minified ESM file with
// eventsource-parser inside and no Node built-ins (esbuild fails the build if one is
// imported, since the platform is 'browser'), then reports its gzipped size. Its budget
// (9 KiB gzipped) is checked by size-limit, configured in package.json: `npm run build` and
// the package spec fail past it. 8 KiB until session secrets (0.2): the secret headers, the
// WebSocket subprotocol and the native EventSource's resume ticket cost about 400 bytes
// gzipped. 9 KiB leaves room for the clearer errors planned; larger features (tab sharing)
// go in entries of their own. The Node build (dist/cjs/client, with its ESM wrapper in
// dist/esm/client) comes from scripts/build.mjs with the rest of lib/.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export const outfile = 'dist/client/express-channel-client.js';
export async function buildClient() {
  await build({
    entryPoints: ['lib/client/index.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const code = readFileSync(outfile);
  const gzipped = gzipSync(code, { level: 9 }).length;
  return { bytes: code.length, gzipped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { bytes, gzipped } = await buildClient();
  console.log(`${outfile}: ${bytes} bytes, ${gzipped} bytes gzipped (at zlib level 9)`);
}
