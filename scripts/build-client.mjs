// Builds the browser bundle of express-channel/client: one minified ESM file with
// eventsource-parser inside and no Node built-ins (esbuild fails the build if one is
// imported, since the platform is 'browser'), then reports its gzipped size.
// The Node build (dist/esm/client, dist/cjs/client) comes from tsc with the rest of lib/.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

export const outfile = 'dist/client/express-channel-client.js';
// 8 KiB until session secrets (0.2): the secret headers, the WebSocket subprotocol and the
// native EventSource's resume ticket cost about 400 bytes gzipped. 9 KiB leaves room for the
// clearer errors planned; larger features (tab sharing) go in entries of their own.
const limit = 9 * 1024;

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
  console.log(`${outfile}: ${bytes} bytes, ${gzipped} bytes gzipped (limit ${limit})`);
  if (gzipped > limit) {
    console.error(`the browser client is over ${limit} bytes gzipped`);
    process.exit(1);
  }
}
