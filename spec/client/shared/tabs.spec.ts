// express-channel/client/shared in Debian's Chromium, through playwright-core: eight tabs of
// one origin share one connection (issue 19). Every tab gets every broadcast once, in order,
// over ONE event stream; the leader tab closing mid-stream loses and doubles nothing in the
// others, whose sends reach the server once, in each tab's order. Skips, saying why, when
// /usr/bin/chromium is absent — except on CI (CI=true), where a missing browser fails the run.
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumMissing, launchChromium } from '../../support/browser.js';
import { startServer, type TestServer } from '../support.js';

const missing = chromiumMissing('browser specs');

const page = `<!doctype html><meta charset="utf-8"><title>tab</title>
<script type="module">
import { connect } from '/shared.js';
const log = [];
let conn;
window.t = {
  start(options) {
    conn = connect('/live', { reconnect: { minDelay: 5, maxDelay: 40 }, openTimeout: 2000, ...options });
    conn.onopen = (e) => log.push('open ' + e.transport + ' ' + e.resumed);
    conn.onmessage = (e) => log.push('m ' + e.data);
    conn.ongap = (e) => log.push('gap ' + e.first + '-' + e.last);
    conn.onclose = (e) => log.push('close ' + e.code + ' ' + e.reason);
  },
  send(data) { conn.send(data); },
  close() { conn.close(); },
  count(prefix) { return log.filter((l) => l.startsWith(prefix)).length; },
  messages() { return log.filter((l) => l.startsWith('m ')).map((l) => l.slice(2)); },
  log,
  get leader() { return conn.isLeader; },
  get readyState() { return conn.readyState; },
};
window.ready = true;
</script>`;

interface Tab {
  start(options: object): void;
  send(data: string): void;
  close(): void;
  count(prefix: string): number;
  messages(): string[];
  log: string[];
  leader: boolean;
}
/** The page's window: functions given to page.evaluate run there, so they name it themselves. */
type W = { t: Tab };

describe('tabs sharing one connection (express-channel/client/shared)', { skip: missing }, () => {
  let browser: Browser;
  let bundle: string;

  before(async () => {
    execFileSync(process.execPath, ['scripts/build-client.mjs'], { stdio: 'pipe' });
    bundle = readFileSync('dist/client/express-channel-client-shared.js', 'utf8');
    browser = await launchChromium();
  });
  after(() => browser?.close());

  /**
   * A server, and `n` tabs of its origin in one browser context, each connected over SSE and
   * open: the first one first (it leads), or all at once (`together`: the lock decides).
   */
  async function tabs(t: TestContext, n: number, together = false): Promise<{ srv: TestServer; context: BrowserContext; pages: Page[] }> {
    const srv = await startServer(t, { heartbeat: 2000 });
    srv.app.get('/', (_req, res) => void res.type('html').send(page));
    srv.app.get('/shared.js', (_req, res) => void res.type('js').send(bundle));
    const context = await browser.newContext();
    t.after(() => context.close());
    const pages: Page[] = [];
    for (let i = 0; i < n; i++) {
      const p = await context.newPage();
      await p.goto(srv.url.replace('/live', '/'));
      await p.waitForFunction('window.ready === true');
      pages.push(p);
    }
    const start = (p: Page) => p.evaluate(() => (window as unknown as W).t.start({ transports: ['sse'] }));
    if (together) await Promise.all(pages.map(start));
    else {
      await start(pages[0]!);
      await count(pages[0]!, 'open', 1);
      for (const p of pages.slice(1)) await start(p);
    }
    for (const p of pages) await count(p, 'open', 1);
    return { srv, context, pages };
  }

  const count = (p: Page, prefix: string, n: number, timeout = 10_000) =>
    p.waitForFunction(([prefix, n]) => (window as unknown as W).t.count(prefix as string) >= (n as number), [prefix, n] as const, { timeout });
  const messages = (p: Page) => p.evaluate(() => (window as unknown as W).t.messages());
  const numbers = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

  it('delivers every broadcast to each of eight tabs started at once, once and in order, over one event stream', async (t) => {
    const { srv, pages } = await tabs(t, 8, true);
    const ch = await srv.channel();
    for (let i = 1; i <= 100; i++) ch.send(String(i));
    for (const p of pages) await count(p, 'm ', 100);
    for (const p of pages) assert.deepEqual(await messages(p), numbers(1, 100));
    assert.equal(srv.requests.filter((r) => r === 'GET sse').length, 1, 'one event stream for eight tabs');
    assert.equal(srv.channels.length, 1, 'one channel on the server');
    assert.equal((await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as W).t.leader)))).filter(Boolean).length, 1, 'one leader');
    assert.deepEqual(await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as W).t.log.filter((l) => !l.startsWith('m '))))), pages.map(() => ['open sse false']));
  });

  it('loses and doubles nothing when the leader tab closes mid-stream, and each tab\'s sends arrive once, in its order', async (t) => {
    const { srv, pages } = await tabs(t, 8);
    const ch = await srv.channel();
    const leaders = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as W).t.leader)));
    assert.deepEqual(leaders, [true, false, false, false, false, false, false, false]);
    const [leader, ...others] = pages as [Page, ...Page[]];
    const send = (p: Page, text: string) => p.evaluate((d) => (window as unknown as W).t.send(d), text);
    for (const [i, p] of pages.entries()) for (let j = 1; j <= 5; j++) await send(p, `${i}:${j}`);
    for (let i = 1; i <= 150; i++) ch.send(String(i));
    // Mid-stream: the followers are still being told the first 150 when the leader goes.
    await leader.close();
    for (let i = 151; i <= 300; i++) ch.send(String(i));
    for (const [i, p] of others.entries()) for (let j = 6; j <= 10; j++) await send(p, `${i + 1}:${j}`);
    for (const p of others) await count(p, 'm ', 300, 15_000);
    for (const p of others) assert.deepEqual(await messages(p), numbers(1, 300));
    for (const p of others) assert.equal(await p.evaluate(() => (window as unknown as W).t.count('gap')), 0);
    assert.equal((await Promise.all(others.map((p) => p.evaluate(() => (window as unknown as W).t.leader)))).filter(Boolean).length, 1, 'one tab took over');
    // Every tab's sends, the closed leader's five included (they were queued, so its
    // successor had them), once and in order: 5 + 7 × 10.
    const received = await srv.receivedCount(ch, 75, 15_000);
    const byTab = new Map<string, number[]>();
    for (const m of received.map(String)) {
      const [i, j] = m.split(':') as [string, string];
      byTab.set(i, [...(byTab.get(i) ?? []), Number(j)]);
    }
    assert.deepEqual(byTab.get('0'), [1, 2, 3, 4, 5]);
    for (let i = 1; i < 8; i++) assert.deepEqual(byTab.get(String(i)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], `tab ${i}`);
    assert.equal(received.length, 75);
    assert.equal(srv.channels.length, 1, 'the same session, resumed by the new leader');
    assert.equal(srv.requests.filter((r) => r === 'GET sse').length, 2, 'one event stream, then the new leader\'s');
    for (const p of others) assert.deepEqual(await p.evaluate(() => (window as unknown as W).t.log.filter((l) => l.startsWith('open'))), ['open sse false', 'open sse true']);
  });

  it('closes one tab at a time: a closed leader carries the session for the others, and the last close() ends it', async (t) => {
    const { srv, pages } = await tabs(t, 3);
    const ch = await srv.channel();
    const closedOnServer = new Promise((resolve) => ch.onClose(resolve));
    const [leader, second, third] = pages as [Page, Page, Page];
    const close = (p: Page) => p.evaluate(() => (window as unknown as W).t.close());
    await close(leader);
    await count(leader, 'close', 1);
    assert.equal((await leader.evaluate(() => (window as unknown as W).t.log)).at(-1), 'close 1000 client-close');
    ch.send('after the leader closed');
    for (const p of [second, third]) await count(p, 'm ', 1);
    assert.equal(await leader.evaluate(() => (window as unknown as W).t.count('m ')), 0, 'a closed tab hears nothing');
    await close(second);
    await count(second, 'close', 1);
    ch.send('still here');
    await count(third, 'm ', 2);
    assert.equal(ch.isOpen, true);
    await close(third);
    assert.equal(await closedOnServer, 'client-close', 'the last tab closed: the session ends');
    assert.equal(srv.requests.filter((r) => r === 'GET sse').length, 1, 'one event stream throughout');
  });
});
