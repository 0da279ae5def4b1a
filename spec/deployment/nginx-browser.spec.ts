// The browser bundle in Chromium, loading its page through a real nginx with the configs of
// docs/deployment.md: what a user's browser does behind the recommended config and behind the
// tutorial one (where nginx rewrites Host, so the Origin check refuses the browser's POSTs,
// and the client says so).
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Browser, Page } from 'playwright-core';
import { channels, type Message } from '../../lib/index.js';
import { chromiumMissing, launchChromium } from '../support/browser.js';
import { freePort, withTimeout } from '../support/harness.js';
import { docsConfig, nginxMissing, startNginx } from '../support/nginx.js';

const skip = nginxMissing('the nginx browser specs') ?? chromiumMissing('the nginx browser specs');

const page = `<!doctype html><meta charset="utf-8"><title>behind nginx</title>
<script type="module">
import { connect } from '/client.js';
const log = [];
const conn = connect('/live');
conn.onopen = (e) => log.push('open ' + e.transport);
conn.onmessage = (e) => log.push('m ' + e.data);
conn.onerror = (e) => log.push('error ' + e.transport + ' ' + e.error.code);
window.t = { log, send: (text) => conn.send(text) };
</script>`;

interface BrowserCase {
  config: string;
  transport: string;
  /** Whether the browser's session POSTs pass the Origin check behind it. */
  postsAccepted: boolean;
}

const cases: BrowserCase[] = [
  { config: 'websocket', transport: 'websocket', postsAccepted: true },
  { config: 'proxy_pass only', transport: 'sse', postsAccepted: false },
];

describe('the browser client behind nginx (docs/deployment.md)', { skip }, () => {
  let browser: Browser;
  let bundle: string;
  before(async () => {
    execFileSync(process.execPath, ['scripts/build-client.mjs'], { stdio: 'pipe' });
    bundle = readFileSync('dist/client/express-channel-client.js', 'utf8');
    browser = await launchChromium();
  });
  after(() => browser?.close());

  async function behindNginx(t: TestContext, config: string) {
    const live = channels();
    const app = express();
    app.use(live);
    const lobby = live.group('lobby');
    const received: Message[] = [];
    let firstReceived: () => void = () => undefined;
    const arrived = new Promise<void>((resolve) => (firstReceived = resolve));
    let posts = 0;
    app.get('/', (_req, res) => void res.type('html').send(page));
    app.get('/client.js', (_req, res) => void res.type('js').send(bundle));
    app.get('/live', (req) => {
      const ch = req.channel!;
      lobby.add(ch);
      ch.onReceive((m) => {
        received.push(m);
        firstReceived();
      });
      if (ch.isSession) ch.send('welcome');
    });
    const server = app.listen(0, '127.0.0.1');
    server.on('request', (req) => void (req.method === 'POST' && posts++));
    live.attach(server);
    await once(server, 'listening');
    t.after(async () => {
      await live.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    const port = await freePort();
    const nginx = await startNginx(t, docsConfig(config, { port, appPort: (server.address() as AddressInfo).port }), port);
    const context = await browser.newContext();
    t.after(() => context.close());
    const p = await context.newPage();
    await p.goto(`${nginx.origin}/`);
    return { page: p, received, arrived, posts: () => posts };
  }

  const logOf = (p: Page) => p.evaluate(() => (window as unknown as { t: { log: string[] } }).t.log);
  const waitFor = (p: Page, line: string) =>
    p.waitForFunction((l) => (window as unknown as { t: { log: string[] } }).t.log.includes(l), line, { timeout: 5000 });

  for (const { config, transport, postsAccepted } of cases) {
    it(`"${config}": opens over ${transport}, gets its first message, and its sends ${postsAccepted ? 'arrive' : 'are refused once, with the reason'}`, async (t) => {
      const s = await behindNginx(t, config);
      await waitFor(s.page, 'm welcome');
      assert.ok((await logOf(s.page)).includes(`open ${transport}`));
      await s.page.evaluate(() => (window as unknown as { t: { send(x: string): void } }).t.send('from the page'));
      if (postsAccepted) {
        await withTimeout(s.arrived, 5000, 'the page\'s message at the server');
        assert.deepEqual(s.received, ['from the page']);
        return;
      }
      // nginx's default Host is the upstream's address, which the page's Origin does not match.
      await waitFor(s.page, 'error sse origin-not-allowed');
      assert.equal(s.posts(), 1);
      assert.deepEqual(s.received, []);
    });
  }
});
