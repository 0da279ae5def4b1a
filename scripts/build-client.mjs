// Builds the browser bundle of express-channel/client: one minified ESM file with
// eventsource-parser inside and no Node built-ins (esbuild fails the build if one is
// imported, since the platform is 'browser'), then reports its gzipped size. Its budget
// (9 KiB gzipped) is checked by size-limit, configured in package.json: `npm run build` and
// the package spec fail past it. 8 KiB until session secrets (0.2): the secret headers, the
// WebSocket subprotocol and the native EventSource's resume ticket cost about 400 bytes
// gzipped. 9 KiB leaves room for the clearer errors planned; larger features go in entries
// of their own: tab sharing is express-channel/client/shared, a second bundle (the whole
// client and the sharing) with a budget of its own beside the first in package.json. The Node build (dist/cjs/client, with its ESM wrapper in
// dist/esm/client) comes from scripts/build.mjs with the rest of lib/.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

export const outfile = 'dist/client/express-channel-client.js';
/** express-channel/client/shared: the client with tab sharing, a bundle of its own (its own budget too). */
export const sharedOutfile = 'dist/client/express-channel-client-shared.js';

// esbuild bundles and minifies; terser then compresses what esbuild leaves (about 3 % of
// the gzipped size, a few hundred bytes of the budget), carrying esbuild's source map over
// so the map still leads to lib/client/*.ts, whose text it carries (sourcesContent).
export async function buildClient() {
  const shared = await bundle('lib/client/shared/index.ts', sharedOutfile);
  return { ...(await bundle('lib/client/index.ts', outfile)), shared };
}

async function bundle(entry, out) {
  const bundled = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    legalComments: 'none',
    logLevel: 'warning',
    write: false,
  });
  const file = (suffix) => bundled.outputFiles.find((f) => f.path.endsWith(suffix)).text;
  const map = JSON.parse(file('.js.map'));
  const minified = await minify(file('.js'), {
    module: true,
    ecma: 2022,
    // No getter of the client has a side effect; no function expression of it is called with
    // `new` or reads `this` (arrows), and no method is (method shorthand): about 10 bytes.
    compress: { passes: 3, pure_getters: true, unsafe_arrows: true, unsafe_methods: true },
    sourceMap: { content: map, url: `${basename(out)}.map`, includeSources: true },
  });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, minified.code);
  writeFileSync(`${out}.map`, minified.map);
  return { bytes: Buffer.byteLength(minified.code), gzipped: gzipSync(minified.code, { level: 9 }).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { bytes, gzipped, shared } = await buildClient();
  console.log(`${outfile}: ${bytes} bytes, ${gzipped} bytes gzipped (at zlib level 9)`);
  console.log(`${sharedOutfile}: ${shared.bytes} bytes, ${shared.gzipped} bytes gzipped (at zlib level 9)`);
}
