// The page's JavaScript, built at startup with esbuild (a devDependency) so that `npm start`
// works on a fresh clone and always serves the current sources:
// - /vendor/express-channel-client.js: the browser bundle of express-channel/client, built as
//   scripts/build-client.mjs builds dist/client (same entry, same options);
// - /app.js: the dashboard (demo/page/*.ts), which imports the client bundle above as a
//   separate module rather than inlining it, exactly as an application would.
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Plugin } from 'esbuild';

export const clientPath = '/vendor/express-channel-client.js';

export interface Asset {
  body: Buffer;
  type: string;
}

const root = fileURLToPath(new URL('..', import.meta.url));

const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  write: false,
  absWorkingDir: root,
  logLevel: 'silent',
};

// The page imports lib/client/index.js (for its types, and so tsc checks it against the real
// API); in the browser that import becomes the served bundle.
const clientAsExternal: Plugin = {
  name: 'client-as-external',
  setup(b) {
    b.onResolve({ filter: /lib\/client\/index\.js$/ }, () => ({ path: clientPath, external: true }));
  },
};

/** Builds both bundles (and their source maps), keyed by URL path. */
export async function buildAssets(): Promise<Map<string, Asset>> {
  const [client, page] = await Promise.all([
    build({ ...common, entryPoints: ['lib/client/index.ts'], outfile: `dist-demo${clientPath}` }),
    build({ ...common, entryPoints: ['demo/page/main.ts'], outfile: 'dist-demo/app.js', plugins: [clientAsExternal] }),
  ]);
  const assets = new Map<string, Asset>();
  for (const file of [...(client.outputFiles ?? []), ...(page.outputFiles ?? [])]) {
    const path = file.path.slice(file.path.indexOf('dist-demo') + 'dist-demo'.length);
    const type = path.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8';
    assets.set(path, { body: Buffer.from(file.contents), type });
  }
  return assets;
}
