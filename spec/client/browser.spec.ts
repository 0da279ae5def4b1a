// The browser bundle (dist/client/express-channel-client.js) in Debian's Chromium, through
// playwright-core: the same scenarios as the Node specs, once with every transport, once with
// `window.WebSocket` removed (→ SSE), once with WebSocket removed and event streams blocked
// at the network (→ poll). Skips, saying why, when /usr/bin/chromium is absent — except on
// CI (CI=true), where a missing browser fails the run.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../support/browser.js';
import type { TransportName } from '../../lib/client/index.js';
import { startServer, type TestServer } from './support.js';

const missing = chromiumMissing('browser specs');

const page = `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="module">
import { connect } from '/client.js';
const log = [];
let conn;
window.t = {
  start(options) {
    conn = connect('/live', { reconnect: { minDelay: 5, maxDelay: 40 }, openTimeout: 2000, ...options });
    conn.onopen = (e) => log.push('open ' + e.transport + ' ' + e.resumed);
    conn.onmessage = (e) => log.push((typeof e.data === 'string' ? 'm ' + e.data : 'b ' + [...new Uint8Array(e.data)].join(',')) + (e.name ? ' @' + e.name : ''));
    conn.addEventListener('chat', (e) => log.push('chat ' + e.data));
    conn.ongap = (e) => log.push('gap ' + e.first + '-' + e.last);
    conn.onreconnecting = () => log.push('reconnecting');
    conn.onclose = (e) => log.push('close ' + e.code + ' ' + e.reason + ' ' + e.sessionGone);
  },
  send(data) {
    try { conn.send(typeof data === 'string' ? data : new Uint8Array(data)); return 'ok'; } catch (e) { return e.code; }
  },
  sendAsIs(data) {
    try { conn.send(data); return 'ok'; } catch (e) { return e.name + ' ' + e.code; }
  },
  close() { conn.close(); },
  count(prefix) { return log.filter((l) => l.startsWith(prefix)).length; },
  log,
  get transport() { return conn.transport; },
};
window.ready = true;
</script>`;

interface Mode {
  name: string;
  expected: TransportName;
  prepare(page: Page): Promise<void>;
}

const modes: Mode[] = [
  { name: 'with every transport', expected: 'websocket', prepare: async () => undefined },
  {
    name: 'with window.WebSocket removed',
    expected: 'sse',
    prepare: async (p) => {
      await p.addInitScript('delete window.WebSocket');
    },
  },
  {
    name: 'with WebSocket removed and event streams blocked',
    expected: 'poll',
    prepare: async (p) => {
      await p.addInitScript('delete window.WebSocket; delete window.EventSource');
      // A proxy that drops streaming responses: the SSE request fails at the network.
      await p.route('**/live?*', (route) => (/event-stream/.test(route.request().headers()['accept'] ?? '') ? route.abort() : route.continue()));
    },
  },
];

describe('browser client', { skip: missing }, () => {
  let browser: Browser;
  let bundle: string;

  before(async () => {
    execFileSync(process.execPath, ['scripts/build-client.mjs'], { stdio: 'pipe' });
    bundle = readFileSync('dist/client/express-channel-client.js', 'utf8');
    browser = await launchChromium();
  });
  after(() => browser?.close());

  async function open(t: TestContext, mode: Mode, options = {}): Promise<{ srv: TestServer; page: Page }> {
    const srv = await startServer(t, { pollTimeout: 1000 });
    srv.app.get('/', (_req, res) => void res.type('html').send(page));
    srv.app.get('/client.js', (_req, res) => void res.type('js').send(bundle));
    const context = await browser.newContext();
    t.after(() => context.close());
    const p = await context.newPage();
    await mode.prepare(p);
    await p.goto(srv.url.replace('/live', '/'));
    await p.waitForFunction('window.ready === true');
    await p.evaluate((o) => (window as unknown as { t: { start(o: object): void } }).t.start(o), options);
    return { srv, page: p };
  }

  const count = (p: Page, prefix: string, n: number, timeout = 10_000) =>
    p.waitForFunction(([prefix, n]) => (window as unknown as { t: { count(p: string): number } }).t.count(prefix as string) >= (n as number), [prefix, n] as const, { timeout });
  const log = (p: Page) => p.evaluate(() => (window as unknown as { t: { log: string[] } }).t.log);
  const send = (p: Page, data: string | number[]) => p.evaluate((d) => (window as unknown as { t: { send(d: string | number[]): string } }).t.send(d), data);

  for (const mode of modes) {
    it(`delivers named messages ${mode.name}: message carries the name, addEventListener(name) hears just those; send(object) throws invalid-data`, async (t) => {
      const { srv, page: p } = await open(t, mode);
      await count(p, 'open', 1);
      const ch = await srv.channel();
      ch.send('hi', { event: 'chat' });
      ch.send('plain');
      ch.send(Buffer.from([7]), { event: 'blob' });
      ch.send('more', { event: 'chat' });
      await count(p, 'chat ', 2);
      assert.deepEqual((await log(p)).slice(1), ['m hi @chat', 'chat hi', 'm plain', 'b 7 @blob', 'm more @chat', 'chat more']);
      const sendAsIs = (data: unknown) => p.evaluate((d) => (window as unknown as { t: { sendAsIs(d: unknown): string } }).t.sendAsIs(d), data);
      assert.equal(await sendAsIs({ type: 'chat', text: 'hi' }), 'TypeError invalid-data');
    });

    it(`opens over ${mode.expected} ${mode.name} and carries text and binary both ways`, async (t) => {
      const { srv, page: p } = await open(t, mode);
      await count(p, 'open', 1);
      assert.equal(await p.evaluate(() => (window as unknown as { t: { transport: string } }).t.transport), mode.expected);
      const ch = await srv.channel();
      ch.send('hello');
      ch.send(Buffer.from([1, 2, 255]));
      await count(p, 'm ', 1);
      await count(p, 'b ', 1);
      assert.deepEqual(await log(p), [`open ${mode.expected} false`, 'm hello', 'b 1,2,255']);
      assert.equal(await send(p, 'from page'), 'ok');
      assert.equal(await send(p, [3, 4]), 'ok');
      const received = await srv.receivedCount(ch, 2);
      assert.deepEqual(received.map((m) => (typeof m === 'string' ? m : [...m])), ['from page', [3, 4]]);
    });

    it(`resumes ${mode.name}: 300 messages sent across 5 server-side cuts arrive once, in order`, async (t) => {
      const { srv, page: p } = await open(t, mode);
      await count(p, 'open', 1);
      const ch = await srv.channel();
      for (let cut = 1; cut <= 5; cut++) {
        for (let i = 1; i <= 60; i++) ch.send(String((cut - 1) * 60 + i));
        await count(p, 'm ', (cut - 1) * 60 + 1);
        // A browser may retry an idempotent poll on a fresh connection by itself, so a cut
        // does not always show as a reconnect; what must hold is what arrives.
        srv.cut();
      }
      await count(p, 'm ', 300);
      const messages = (await log(p)).filter((l) => l.startsWith('m ')).map((l) => Number(l.slice(2)));
      assert.deepEqual(messages, Array.from({ length: 300 }, (_, i) => i + 1));
      assert.equal((await log(p)).filter((l) => l.startsWith('gap')).length, 0);
      assert.equal(srv.channels.length, 1);
    });

    it(`queues sends while offline ${mode.name}, delivers them once, and closes on close()`, async (t) => {
      const { srv, page: p } = await open(t, mode, { maxQueued: 2 });
      await count(p, 'open', 1);
      const ch = await srv.channel();
      srv.blocked = true;
      srv.cut();
      await count(p, 'reconnecting', 1);
      assert.deepEqual([await send(p, 'o1'), await send(p, 'o2'), await send(p, 'o3')], ['ok', 'ok', 'queue-full']);
      srv.blocked = false;
      await count(p, 'open', 2);
      assert.deepEqual(await srv.receivedCount(ch, 2), ['o1', 'o2']);
      const closedOnServer = new Promise((resolve) => ch.onClose(resolve));
      // The reconnect round that got through may have started on another transport.
      const transport = await p.evaluate(() => (window as unknown as { t: { transport: string } }).t.transport);
      await p.evaluate(() => (window as unknown as { t: { close(): void } }).t.close());
      await count(p, 'close', 1);
      assert.equal((await log(p)).at(-1), 'close 1000 client-close false');
      // A WebSocket's close frame 1000 reads as 'normal'; SSE and poll end with a DELETE.
      assert.equal(await closedOnServer, transport === 'websocket' ? 'normal' : 'client-close');
    });
  }
});
