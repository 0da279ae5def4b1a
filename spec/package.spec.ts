// The package as a user gets it: packed from a clean copy of the repository (no dist/, so
// `prepack` must build), installed into a new project, imported from ESM and CommonJS (one
// copy of the library for both), type-checked there under every module setting a user may
// have, and checked by publint, arethetypeswrong (every profile) and size-limit.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd: string, args: string[], cwd: string): string => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
  } catch (error) {
    // The command's own words are what explain a failure: put them in the message.
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${(error as Error).message}\n${stdout ?? ''}${stderr ?? ''}`.trim(), { cause: error });
  }
};
const tsc = (project: string, config: string) => run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(project, config)], project);

/** What a fresh clone has: the files git tracks (as they are in the work tree), and no dist/. */
function cleanCopy(into: string): void {
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(root, file))) continue; // deleted in the work tree, not yet committed
    mkdirSync(dirname(join(into, file)), { recursive: true });
    cpSync(join(root, file), join(into, file));
  }
  symlinkSync(join(root, 'node_modules'), join(into, 'node_modules'), 'dir'); // what `npm ci` would install
}

const server = `import express from 'express';
import { channels, type Channel, type CloseReason } from 'express-channel';
const live = channels({ heartbeat: 10_000, bufferPolicy: 'drop' });
const app = express();
app.use(live);
app.get('/x', (req) => {
  const ch: Channel | undefined = req.channel;
  ch?.onClose((reason: CloseReason) => console.log(reason));
  ch?.send({ status: 201, headers: { 'x-a': '1' }, body: 'x' }, { close: false });
  // @ts-expect-error a number is not something send() takes
  ch?.send(42);
});
export { live };
`;

const client = `import { connect, ClientError, type Connection, type ConnectOptions } from 'express-channel/client';
import { connect as connectShared, type SharedConnection } from 'express-channel/client/shared';
const options: ConnectOptions = { transports: ['sse', 'poll'] };
const conn: Connection = connect('http://127.0.0.1:3000/live', options);
conn.addEventListener('message', (event) => console.log(event.seq, event.data));
conn.send('hello');
export const isClientError = (error: unknown): boolean => error instanceof ClientError;
export function shareTabs(): SharedConnection {
  const shared = connectShared('http://127.0.0.1:3000/live', options);
  shared.addEventListener('message', (event) => console.log(shared.tabId, event.seq, event.data));
  return shared;
}
`;

const compilerOptions = { strict: true, target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'], esModuleInterop: true };

describe('the published package', () => {
  let project: string;
  let clone: string;
  let tarball: string;

  before(() => {
    clone = mkdtempSync(join(tmpdir(), 'express-channel-clone-'));
    project = mkdtempSync(join(tmpdir(), 'express-channel-pack-'));
    cleanCopy(clone);
    run(npm, ['pack', '--pack-destination', project], clone);
    tarball = join(project, readdirSync(project).find((f) => f.endsWith('.tgz')) ?? assert.fail('npm pack wrote no tarball'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, version: '1.0.0' }));
    // Everything here is already in npm's cache from installing this repo.
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'express@5', '@types/express@5', '@types/node@20'], project);
  });

  after(() => {
    rmSync(project, { recursive: true, force: true });
    rmSync(clone, { recursive: true, force: true });
  });

  it('is built by npm pack on a clean clone, and ships only the build, the README, the changelog and the license', () => {
    const files = run('tar', ['-tzf', tarball], project).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    assert.ok(files.every((f) => f.startsWith('dist/') || ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json'].includes(f)), files.join(', '));
    for (const built of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/client/node.js', 'dist/esm/client/node.js', 'dist/client/express-channel-client.js', 'dist/client/express-channel-client-shared.js', 'dist/esm/client/shared/index.js']) {
      assert.ok(files.includes(built), `${built} is in the package`);
    }
  });

  it('ships no source map that points at sources it does not ship', () => {
    const maps = run('tar', ['-tzf', tarball], project).split('\n').filter((f) => f.endsWith('.map'));
    assert.deepEqual(maps.sort(), ['package/dist/client/express-channel-client-shared.js.map', 'package/dist/client/express-channel-client.js.map']);
    const map = JSON.parse(readFileSync(join(project, 'node_modules/express-channel/dist/client/express-channel-client.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    assert.equal(map.sourcesContent?.length, map.sources.length, 'the browser bundle map carries its sources');
  });

  it('brings no type package into a production install: its public types need none', () => {
    const manifest = JSON.parse(readFileSync(join(project, 'node_modules/express-channel/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(Object.keys(manifest.dependencies).filter((name) => name.startsWith('@types/')), []);
    assert.equal(existsSync(join(project, 'node_modules/@types/ws')), false, '@types/ws is not installed');
  });

  it('is imported from ESM and answers a long-poll', () => {
    writeFileSync(
      join(project, 'esm.mjs'),
      `import express from 'express';
import { channels } from 'express-channel';
const live = channels();
const app = express();
app.use(live);
app.get('/lp', (req) => req.channel.send('answer from esm'));
const server = app.listen(0, '127.0.0.1', async () => {
  live.attach(server);
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/lp');
  console.log(await res.text());
  await live.close();
  server.close();
});
`,
    );
    assert.equal(run(process.execPath, ['esm.mjs'], project).trim(), 'answer from esm');
  });

  it('is required from CommonJS and streams SSE', () => {
    writeFileSync(
      join(project, 'cjs.cjs'),
      `const { channels } = require('express-channel');
const express = require('express');
const live = channels();
const app = express();
app.use(live);
app.get('/sse', (req) => { req.channel.send('from cjs'); req.channel.close(); });
const server = app.listen(0, '127.0.0.1', async () => {
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/sse', { headers: { accept: 'text/event-stream' } });
  console.log(JSON.stringify([res.headers.get('content-type'), await res.text()]));
  await live.close();
  server.close();
});
`,
    );
    assert.deepEqual(JSON.parse(run(process.execPath, ['cjs.cjs'], project)), ['text/event-stream; charset=utf-8', 'data: from cjs\n\n']);
  });

  it('loads one copy whether imported or required: a group from require() takes a channel of the import', () => {
    writeFileSync(
      join(project, 'one-copy.mjs'),
      `import { createRequire } from 'node:module';
import express from 'express';
import * as esm from 'express-channel';
import * as esmClient from 'express-channel/client';
const cjs = createRequire(import.meta.url)('express-channel');
const cjsClient = createRequire(import.meta.url)('express-channel/client');
const live = esm.channels();
const room = cjs.channels().group('room');
const app = express();
app.use(live);
app.get('/lp', (req) => {
  room.add(req.channel); // ChannelGroup.add checks instanceof Channel: this throws with two copies
  room.broadcast('joined ' + room.size);
});
const server = app.listen(0, '127.0.0.1', async () => {
  const res = await fetch('http://127.0.0.1:' + server.address().port + '/lp');
  console.log(JSON.stringify({
    answer: await res.text(),
    group: room instanceof esm.ChannelGroup,
    classes: ['channels', 'Channel', 'ChannelGroup', 'ChannelError'].every((name) => esm[name] === cjs[name]),
    client: cjsClient.Connection === esmClient.Connection && cjsClient.ClientError === esmClient.ClientError,
  }));
  await live.close();
  server.close();
});
`,
    );
    assert.deepEqual(JSON.parse(run(process.execPath, ['one-copy.mjs'], project)), { answer: 'joined 1', group: true, classes: true, client: true });
  });

  it('type-checks a server and a client file under "module": "commonjs", node16 and bundler resolution, with full checking of the shipped declarations', () => {
    writeFileSync(join(project, 'server.ts'), server);
    writeFileSync(join(project, 'client.ts'), client);
    const settings = {
      commonjs: { module: 'commonjs' }, // moduleResolution node10: no subpath exports
      node16: { module: 'node16', moduleResolution: 'node16' },
      bundler: { module: 'esnext', moduleResolution: 'bundler' },
    };
    for (const [name, modes] of Object.entries(settings)) {
      writeFileSync(join(project, `tsconfig.${name}.json`), JSON.stringify({ compilerOptions: { ...compilerOptions, ...modes }, files: ['server.ts', 'client.ts'] }));
      assert.doesNotThrow(() => tsc(project, `tsconfig.${name}.json`), name);
    }
  });

  it('declares one copy of each class: a CommonJS ChannelGroup is the ES module ChannelGroup type', () => {
    writeFileSync(
      join(project, 'one-type.cts'),
      `import cjs = require('express-channel');
type EsmGroup = import('express-channel', { with: { 'resolution-mode': 'import' } }).ChannelGroup;
export const group: EsmGroup = cjs.channels().group('room');
`,
    );
    writeFileSync(join(project, 'tsconfig.one-type.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16' }, files: ['one-type.cts'] }));
    tsc(project, 'tsconfig.one-type.json');
  });

  it('shows only the documented API in the shipped declarations: no internal member compiles', () => {
    writeFileSync(
      join(project, 'internals.ts'),
      `import { channels, type Channel, type ChannelGroup, type Live } from 'express-channel';
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exact = <T extends true>(proof: T): T => proof;
// Every key of the public classes, and nothing else.
exact<Equals<keyof Channel, 'id' | 'transport' | 'isOpen' | 'isWebSocket' | 'isSession' | 'resumed' | 'closeReason' | 'send' | 'close' | 'onReceive' | 'onClose'>>(true);
exact<Equals<keyof ChannelGroup, 'name' | 'size' | 'count' | 'add' | 'delete' | 'has' | 'broadcast' | typeof Symbol.iterator>>(true);
exact<Equals<keyof Live, 'attach' | 'group' | 'channels' | 'stats' | 'close' | 'drain' | 'ready' | 'on' | 'off'>>(true);
export function misuse(ch: Channel, group: ChannelGroup, live: Live): void {
  // @ts-expect-error the wire's entry point is not the user's
  ch.received('forged');
  // @ts-expect-error the session behind a channel is internal
  ch.session.release();
  // @ts-expect-error so is the way a wire reports an acknowledgement
  ch.control({ type: 'ack', seq: 1 });
  // @ts-expect-error a group delivers only through broadcast()
  group.deliver('x', {});
  // @ts-expect-error and keeps its log to itself
  group.log.trim();
  // @ts-expect-error a channel is made by the middleware, never by hand
  new (ch.constructor as typeof Channel)();
  // @ts-expect-error only 'error' events
  live.on('connection', () => undefined);
}
void channels;
`,
    );
    writeFileSync(
      join(project, 'tsconfig.internals.json'),
      JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'nodenext', moduleResolution: 'nodenext' }, files: ['internals.ts'] }),
    );
    tsc(project, 'tsconfig.internals.json');
  });

  it('runs a user\'s test written with express-channel/testing, with a raw WebSocket, an event stream, a long-poll and the client', () => {
    writeFileSync(
      join(project, 'route.test.mjs'),
      `import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import express from 'express';
import { channels } from 'express-channel';
import { testScope } from 'express-channel/testing';

const scope = testScope(afterEach);

test('GET /echo echoes on every transport', async () => {
  const live = channels();
  const app = express();
  app.use(live);
  app.get('/echo', (req) => req.channel.onReceive((m) => req.channel.send('echo: ' + m)));
  app.get('/hello', (req) => req.channel.send('hello'));
  const server = await scope.listen(app, { live });
  const ws = await scope.webSocket(server.wsUrl('/echo'));
  ws.send('ws');
  assert.equal(await ws.next(), 'echo: ws');
  const stream = await scope.eventStream(server.url('/hello'));
  assert.equal((await stream.next()).data, 'hello');
  assert.equal(await scope.http(server.url('/hello')).body(), 'hello');
  const client = scope.client(server.url('/echo'));
  client.send('client');
  assert.equal(await client.next(), 'echo: client');
  await assert.rejects(ws.next(20), /timed out after 20 ms waiting for the next message/);
});
`,
    );
    // Run as a user would: not as a child of this test runner (which NODE_TEST_CONTEXT tells it it is).
    const { NODE_TEST_CONTEXT: _ignored, ...env } = process.env;
    const output = execFileSync(process.execPath, ['--test', '--test-reporter=tap', 'route.test.mjs'], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    assert.match(output, /^# pass 1$/m);
    assert.match(output, /^# fail 0$/m);
    const required = run(process.execPath, ['-e', "const t = require('express-channel/testing'); console.log(typeof t.testScope, typeof t.within, typeof t.TestScope)"], project);
    assert.equal(required.trim(), 'function function function', 'required from CommonJS too');
  });

  it('needs no prom-client for the main entry, and scrapes with express-channel/metrics once it is installed', () => {
    assert.throws(() => run(process.execPath, ['-e', "require.resolve('prom-client')"], project), /Cannot find module 'prom-client'/, 'every test above ran without prom-client');
    // express-channel/testing's types show ws's own (TestWebSocket.ws): a TypeScript user of it installs @types/ws, as docs/testing.md says.
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', 'prom-client@15', '@types/ws@8'], project);
    writeFileSync(
      join(project, 'metrics.cjs'),
      `const { channels } = require('express-channel');
const { registerMetrics } = require('express-channel/metrics');
const { Registry } = require('prom-client');
const live = channels();
const registry = new Registry();
registerMetrics(live, { registry });
live.group('g').broadcast('x');
registry.metrics().then((text) => {
  console.log(text.split('\\n').filter((l) => /^express_channel_(open_channels|broadcast_fanout_seconds_count)/.test(l)).join('\\n'));
  return live.close();
});
`,
    );
    assert.deepEqual(run(process.execPath, ['metrics.cjs'], project).trim().split('\n'), [
      'express_channel_open_channels{transport="websocket"} 0',
      'express_channel_open_channels{transport="sse"} 0',
      'express_channel_open_channels{transport="http"} 0',
      'express_channel_open_channels{transport="poll"} 0',
      'express_channel_broadcast_fanout_seconds_count 1',
    ]);
    writeFileSync(
      join(project, 'metrics.mjs'),
      `import { Registry } from 'prom-client';
import { channels } from 'express-channel';
import { registerMetrics } from 'express-channel/metrics';
const live = channels();
const registry = new Registry();
registerMetrics(live, { registry });
const text = await registry.metrics();
console.log(text.split('\\n').find((l) => l.startsWith('express_channel_messages_sent_total')));
await live.close();
`,
    );
    assert.equal(run(process.execPath, ['metrics.mjs'], project).trim(), 'express_channel_messages_sent_total 0', 'imported from ESM too');
    writeFileSync(
      join(project, 'entries.ts'),
      `import { Registry } from 'prom-client';
import { channels } from 'express-channel';
import { registerMetrics, type LiveMetrics } from 'express-channel/metrics';
import { testScope, type TestServer, type TestWebSocket } from 'express-channel/testing';
const live = channels();
const metrics: LiveMetrics = registerMetrics(live, { registry: new Registry(), prefix: 'app_' });
export async function check(after: (fn: () => Promise<void>) => void): Promise<string> {
  const scope = testScope(after);
  const server: TestServer = await scope.listen((_req, res) => res.end(), { live });
  const ws: TestWebSocket = await scope.webSocket(server.wsUrl('/'));
  // @ts-expect-error next() resolves a message, not a number
  const n: number = await ws.next();
  return String(n) + metrics.names.length;
}
`,
    );
    writeFileSync(
      join(project, 'tsconfig.entries.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['entries.ts'] }),
    );
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(project, 'tsconfig.entries.json')], project);
  });

  it('passes publint and arethetypeswrong in every resolution profile, node10 included', () => {
    run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), 'run', tarball, '--strict'], root);
    run(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), tarball, '--profile', 'strict'], root);
  });

  it('keeps each browser bundle within its gzipped budget (size-limit): the client 9 KiB, the client with tab sharing 11.5 KiB', () => {
    const checks = JSON.parse(run(process.execPath, [join(root, 'node_modules/size-limit/bin.js'), '--json'], clone)) as Array<{ name: string; passed: boolean; size: number }>;
    assert.equal(checks.length, 2);
    for (const check of checks) assert.ok(check.passed, `${check.name} is ${check.size} bytes gzipped, over its budget`);
  });
});
