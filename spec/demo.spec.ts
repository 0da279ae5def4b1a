// The demo dashboard (demo/) end to end, in Debian's Chromium: three tabs on three transports
// chat in one room, the metrics chart moves, "Cut connection" leads to a resume with every
// numbered message received once, WebSocket blocked falls back to SSE, nothing is loaded from
// outside; and the screenshots in docs/images/ are taken from the same run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { createDemo, type Demo } from '../demo/app.js';
import { chromiumMissing, launchChromium } from './support/browser.js';

const missing = chromiumMissing('demo specs');

describe('demo dashboard in Chromium', { skip: missing }, () => {
  let demo: Demo;
  let server: Server;
  let base: string;
  let browser: Browser;
  const requests: string[] = [];
  const errors: string[] = [];
  let ada: Page; // websocket, laptop-sized
  let grace: Page; // poll, phone-sized
  let linus: Page; // auto with WebSocket blocked → sse

  async function open(query: string, viewport: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
    page.setDefaultTimeout(10_000);
    page.on('request', (request) => requests.push(request.url()));
    page.on('websocket', (ws) => requests.push(ws.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${base}/?${query}`);
    await page.locator('#status[data-state="open"]').waitFor();
    return page;
  }

  const count = async (page: Page, id: string) => Number(await page.locator(`#${id}`).textContent());
  // Predicates for waitForFunction are functions without inner declarations: tsx would wrap
  // those in a helper (esbuild's keepNames `__name`) that does not exist in the page, and a
  // string predicate is an eval, which the page's Content-Security-Policy refuses.

  before(async () => {
    // Fast samples and ticks so the run is short; the page labels its axis from the interval.
    demo = createDemo({ metricsInterval: 250, tickInterval: 100 });
    server = await demo.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('opens each tab on the transport it was asked for, falling back to sse when WebSocket is blocked', async () => {
    ada = await open('transport=websocket&room=lobby&name=Ada', { width: 1280, height: 800 });
    grace = await open('transport=poll&room=lobby&name=Grace', { width: 390, height: 844 });
    linus = await open('transport=auto&block=websocket&room=lobby&name=Linus', { width: 1280, height: 800 });
    assert.equal(await ada.locator('#status-text').textContent(), 'Live over websocket');
    assert.equal(await grace.locator('#status-text').textContent(), 'Live over poll');
    assert.equal(await linus.locator('#status-text').textContent(), 'Live over sse');
    // The fallback is shown: websocket tried and failed, then sse.
    assert.equal(await linus.locator('#route .chip.failed').textContent(), 'websocket');
    assert.equal(await linus.locator('#route .chip.current').textContent(), 'sse');
    await linus.locator('#log li', { hasText: 'websocket failed to open' }).waitFor();
  });

  it('lets two tabs on different forced transports (websocket, poll) chat in a room and see who is there', async () => {
    await ada.getByRole('textbox', { name: 'Message', exact: true }).fill('Hello from a WebSocket!');
    await ada.getByRole('button', { name: 'Send' }).click();
    const atGrace = grace.locator('#messages li', { hasText: 'Hello from a WebSocket' });
    await atGrace.waitFor();
    assert.equal(await atGrace.locator('.chip').textContent(), 'websocket');

    await grace.getByRole('textbox', { name: 'Message', exact: true }).fill('Hi Ada! I am long-polling.');
    await grace.getByRole('button', { name: 'Send' }).click();
    const atAda = ada.locator('#messages li', { hasText: 'I am long-polling' });
    await atAda.waitFor();
    assert.equal(await atAda.locator('.chip').textContent(), 'poll');

    await linus.getByRole('textbox', { name: 'Message', exact: true }).fill('SSE here, WebSocket is blocked on my side.');
    await linus.getByRole('button', { name: 'Send' }).click();
    await ada.locator('#messages li', { hasText: 'SSE here' }).waitFor();
    await grace.locator('#messages li', { hasText: 'SSE here' }).waitFor();

    // Presence: every member with the transport carrying it, "you" marked.
    await ada.waitForFunction(() => document.querySelectorAll('#members li').length === 3);
    const members = await ada.locator('#members li').evaluateAll((items) => items.map((li) => `${li.querySelector('.member-name')?.textContent} ${li.querySelector('.chip')?.textContent}`));
    assert.deepEqual(members.sort(), ['Ada (you) websocket', 'Grace poll', 'Linus sse']);
    assert.equal(await grace.locator('#member-count').textContent(), '3');
  });

  it('pushes live metrics: the charts redraw with every sample and count channels per transport', async () => {
    const rate = ada.locator('#chart-rate');
    const updates = Number(await rate.getAttribute('data-updates'));
    const line = await ada.locator('#chart-open polyline').first().getAttribute('points');
    await ada.waitForFunction((n) => Number(document.getElementById('chart-rate')?.dataset['updates']) >= n + 3, updates);
    assert.notEqual(await ada.locator('#chart-open polyline').first().getAttribute('points'), line);
    const open = JSON.parse((await ada.locator('#chart-open').getAttribute('data-last')) ?? '{}') as Record<string, number>;
    assert.deepEqual(open, { websocket: 1, sse: 1, poll: 1, http: 0 });
    const rates = JSON.parse((await rate.getAttribute('data-last')) ?? '{}') as Record<string, number>;
    assert.ok((rates['out'] ?? 0) > 0, `messages out per second: ${JSON.stringify(rates)}`);
    assert.equal(await ada.locator('#kpi-open').textContent(), '3');
  });

  it('resumes after "Cut connection" with every numbered message received once, none lost', async () => {
    const sentBefore = await count(ada, 'count-sent');
    assert.ok(sentBefore > 0);
    await ada.getByRole('button', { name: 'Cut connection' }).click();
    await ada.locator('#log li', { hasText: /Cut 1 socket\(s\) at the server/ }).waitFor();
    await ada.locator('#log li', { hasText: 'Resumed the session on websocket' }).waitFor();
    await ada.locator('#log li', { hasText: 'Caught up: the' }).waitFor();
    await ada.waitForFunction(() => document.getElementById('count-received')?.textContent === document.getElementById('count-sent')?.textContent);
    // One read of all four: numbered messages keep arriving between separate reads.
    const [sent = 0, received, lost, twice] = await ada.evaluate(() => ['count-sent', 'count-received', 'count-lost', 'count-twice'].map((id) => Number(document.getElementById(id)?.textContent)));
    assert.ok(sent >= sentBefore + 20, `the server sent ${sent}, ${sentBefore} before the cut`);
    assert.deepEqual({ received, lost, twice }, { received: sent, lost: 0, twice: 0 });
    assert.ok((await count(ada, 'fact-reconnects')) >= 1);
    assert.match((await ada.locator('#verdict').textContent()) ?? '', /^All \d+ received, in order, once$/);
    assert.equal(await ada.locator('#status-text').textContent(), 'Live over websocket');
  });

  it('loads nothing from outside its own origin, under a policy that allows nothing else', async () => {
    const response = await fetch(`${base}/`);
    assert.match(response.headers.get('content-security-policy') ?? '', /^default-src 'self'; connect-src 'self';/);
    const host = new URL(base).host;
    const foreign = requests.filter((url) => new URL(url).host !== host);
    assert.deepEqual(foreign, []);
    for (const module of ['/app.js', '/vendor/express-channel-client.js']) assert.ok(requests.includes(`${base}${module}`), `${module} was loaded`);
    assert.deepEqual(errors, []);
  });

  it('reads well on a laptop and a phone (saves demo.png and demo-phone.png)', async () => {
    // Let the charts fill a little more of their window for the picture.
    await ada.waitForFunction(() => Number(document.getElementById('chart-open')?.dataset['samples']) >= 40, undefined, { timeout: 20_000 });
    // The README's screenshots are refreshed only when asked (UPDATE_SCREENSHOTS=1), so an
    // ordinary test run leaves the work tree clean; otherwise they go to spec/.artifacts/.
    const dir = process.env['UPDATE_SCREENSHOTS'] === '1' ? 'docs/images' : 'spec/.artifacts';
    mkdirSync(dir, { recursive: true });
    await ada.screenshot({ path: `${dir}/demo.png`, fullPage: true });
    await grace.screenshot({ path: `${dir}/demo-phone.png`, fullPage: true });
    for (const [file, width] of [[`${dir}/demo.png`, 1280], [`${dir}/demo-phone.png`, 390]] as const) {
      const png = readFileSync(file);
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      assert.equal(png.readUInt32BE(16), width, `${file} is ${width} px wide`);
    }
    // On a phone nothing overflows sideways.
    assert.equal(await grace.evaluate(() => document.documentElement.scrollWidth), 390);
  });
});
