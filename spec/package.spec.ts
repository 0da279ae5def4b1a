// The package as a user gets it: built, packed, installed into a new project, imported from
// ESM and CommonJS, type-checked there, and checked by publint and arethetypeswrong.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });

describe('the published package', () => {
  let project: string;

  before(() => {
    run(npm, ['run', 'build'], root);
    project = mkdtempSync(join(tmpdir(), 'express-channel-pack-'));
    run(npm, ['pack', '--pack-destination', project], root);
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, version: '1.0.0' }));
    // Everything here is already in npm's cache from installing this repo.
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`, 'express@5', '@types/express@5', '@types/node@20'], project);
  });

  after(() => rmSync(project, { recursive: true, force: true }));

  it('ships only the build, the README, the changelog and the license', () => {
    const listing = run(npm, ['pack', '--dry-run', '--json'], root);
    const files = (JSON.parse(listing) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    assert.ok(files.every((f) => f.startsWith('dist/') || ['README.md', 'CHANGELOG.md', 'LICENSE', 'package.json'].includes(f)), files.join(', '));
    assert.ok(files.includes('dist/esm/index.js') && files.includes('dist/cjs/index.js') && files.includes('dist/esm/index.d.ts'));
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

  it('types req.channel for a TypeScript user, with full checking of the shipped declarations', () => {
    writeFileSync(
      join(project, 'app.ts'),
      `import express from 'express';
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
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['app.ts'] }),
    );
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project);
  });

  it('shows only the documented API in the shipped declarations: no internal member compiles', () => {
    writeFileSync(
      join(project, 'internals.ts'),
      `import { channels, type Channel, type ChannelGroup, type Live } from 'express-channel';
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const exact = <T extends true>(proof: T): T => proof;
// Every key of the public classes, and nothing else.
exact<Equals<keyof Channel, 'id' | 'transport' | 'isOpen' | 'isWebSocket' | 'isSession' | 'closeReason' | 'send' | 'close' | 'onReceive' | 'onClose'>>(true);
exact<Equals<keyof ChannelGroup, 'name' | 'size' | 'count' | 'add' | 'delete' | 'has' | 'broadcast' | typeof Symbol.iterator>>(true);
exact<Equals<keyof Live, 'attach' | 'group' | 'channels' | 'stats' | 'close' | 'on' | 'off'>>(true);
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
      JSON.stringify({ compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', noEmit: true, skipLibCheck: false, types: ['node'] }, files: ['internals.ts'] }),
    );
    run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(project, 'tsconfig.internals.json')], project);
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
    run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', 'prom-client@15'], project);
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

  it('passes publint and arethetypeswrong', () => {
    run(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), '--strict'], root);
    // node10 resolution cannot see subpath exports ("./client"); every modern mode must pass.
    run(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), '--pack', '.', '--profile', 'node16'], root);
  });
});
