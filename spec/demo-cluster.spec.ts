// The cluster demo (REDIS_URL set: three processes behind the demo's own round-robin
// balancer) end to end in Debian's Chromium, on the shared Redis under a prefix of its own:
// two tabs open on two processes and chat across them, "Here now" shows who is on which
// process, the cluster figures count both tabs, and "Cut connection" ends in a WebSocket
// resume that lands on another process, which takes the session over: every numbered message
// received once, the numbering going on from there, the chat both ways and the tab listed
// once, at its new process; a tab whose process is killed starts a new session on another.
// A resume that reaches the session's own process (one process) says so, no takeover. And
// `npm start` itself: its processes, a dead one taken out of the rotation, SIGINT stopping
// them all.
// (The page and its log are described in docs/demo.md, "Several processes".)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { startCluster, type Cluster } from '../demo/cluster.js';
import { chromiumMissing, launchChromium } from './support/browser.js';
import { withTimeout } from './support/harness.js';
import { sharedRedisUrl, testPrefix, withoutRedis } from './support/redis.js';

const noRedis = await withoutRedis();
const skip = noRedis || chromiumMissing('cluster demo specs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start with a REDIS_URL where nothing answers', () => {
  it('says so in one line and exits with 1, starting no process', async () => {
    const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0' };
    const demo = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await withTimeout(once(demo, 'exit'), 20_000, 'the demo to give up')) as [number | null];
    assert.equal(code, 1);
    assert.match(output, /^express-channel demo: No Redis answers at REDIS_URL=redis:\/\/127\.0\.0\.1:1 \(.+\): start redis-server, or unset REDIS_URL for the one-process demo\n$/);
  });
});

describe('npm start with REDIS_URL', { skip: noRedis }, () => {
  it('runs PROCESSES processes behind the balancer, goes on without one that died, and stops them all by pid on SIGINT', async () => {
    const env = { ...process.env, REDIS_URL: sharedRedisUrl, REDIS_PREFIX: testPrefix(), PROCESSES: '3', PORT: '0' };
    const demo = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    demo.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const banner = new Promise<string>((resolve, reject) => {
      demo.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out);
      });
      demo.once('exit', (code) => reject(new Error(`npm start exited (${String(code)}): ${out}${err}`)));
    });
    try {
      const line = await withTimeout(banner, 30_000, 'the demo to say where it listens');
      const url = /(http:\/\/localhost:\d+)/.exec(line)?.[1];
      const pids = [...line.matchAll(/(p\d) \(pid (\d+)\)/g)].map((m) => Number(m[2]));
      assert.ok(url !== undefined, line);
      assert.equal(pids.length, 3, line);
      assert.match((await (await fetch(`${url}/`)).text()), /express-channel · live demo/);

      // A process killed without a goodbye: the balancer takes it out of the rotation.
      process.kill(pids[1] as number, 'SIGKILL');
      const told = async (): Promise<void> => {
        while (!err.includes('process p2 exited (SIGKILL)')) await once(demo.stderr, 'data');
      };
      await withTimeout(told(), 10_000, 'the demo to say that p2 exited');
      for (let i = 0; i < 6; i++) assert.equal((await fetch(`${url}/style.css`)).status, 200);

      demo.kill('SIGINT');
      const [code] = (await withTimeout(once(demo, 'exit'), 15_000, 'the demo to stop')) as [number | null];
      assert.equal(code, 0, err);
      assert.deepEqual(pids.filter(alive), [], 'every process stopped');
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  });
});

describe('cluster demo (REDIS_URL) in Chromium', { skip }, () => {
  let cluster: Cluster;
  let browser: Browser;
  const errors: string[] = [];
  let ada: Page;
  let grace: Page;

  async function open(query: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${cluster.balancer.url}/?${query}`);
    await page.locator('#status[data-state="open"]').waitFor();
    await page.locator('#fact-process .chip-process').waitFor();
    return page;
  }

  const processOf = async (page: Page) => (await page.locator('#fact-process').textContent()) ?? '';
  const text = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent()) ?? '';

  before(async () => {
    cluster = await startCluster({ redisUrl: sharedRedisUrl, processes: 3, port: 0, host: '127.0.0.1', prefix: testPrefix() });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('opens two tabs on two different processes, which chat and see each other in "Here now"', async () => {
    ada = await open('transport=auto&room=lobby&name=Ada');
    grace = await open('transport=auto&room=lobby&name=Grace');
    const [adaOn, graceOn] = [await processOf(ada), await processOf(grace)];
    assert.match(adaOn, /^p[123]$/);
    assert.match(graceOn, /^p[123]$/);
    assert.notEqual(adaOn, graceOn, 'the balancer sent the two sessions to two processes');

    await ada.getByRole('textbox', { name: 'Message', exact: true }).fill(`Hello from ${adaOn}`);
    await ada.getByRole('button', { name: 'Send' }).click();
    const atGrace = grace.locator('#messages li', { hasText: `Hello from ${adaOn}` });
    await atGrace.waitFor();
    assert.equal(await atGrace.locator('.chip-process').textContent(), adaOn);

    await grace.getByRole('textbox', { name: 'Message', exact: true }).fill(`Hi, ${graceOn} here`);
    await grace.getByRole('button', { name: 'Send' }).click();
    await ada.locator('#messages li', { hasText: `Hi, ${graceOn} here` }).waitFor();

    // Each process sends its part of the member list; the page shows both parts.
    await ada.waitForFunction(() => document.querySelectorAll('#members li').length === 2);
    const members = await ada.locator('#members li').evaluateAll((items) => items.map((li) => `${li.querySelector('.member-name')?.textContent} ${li.querySelector('.chip-process')?.textContent}`));
    assert.deepEqual(members.sort(), [`Ada (you) ${adaOn}`, `Grace ${graceOn}`].sort());
  });

  it('shows cluster-wide counts: both tabs on all processes, one on this one, broadcasts through Redis', async () => {
    await ada.locator('#cluster:not([hidden])').waitFor();
    await ada.waitForFunction(() => document.getElementById('kpi-tabs')?.textContent === '2');
    assert.equal(await text(ada, 'kpi-here'), '1');
    assert.equal(await text(ada, 'cluster-process'), await processOf(ada));
    assert.ok(Number(await text(ada, 'kpi-published')) > 0, 'this process published broadcasts to Redis');
    // The figures come in the process's once-a-second snapshot: wait for the one that has them.
    await ada.waitForFunction(() => Number(document.getElementById('kpi-received')?.textContent) > 0);
    assert.equal(await text(ada, 'kpi-missed'), '0');
    assert.equal(await text(ada, 'cluster-redis'), 'connected');
  });

  /** Cuts `page`'s connection and waits for another process to take its session over; returns that process. */
  async function cutAndTakeOver(page: Page, transport = 'websocket'): Promise<string> {
    const owner = await processOf(page);
    await page.getByRole('button', { name: 'Cut connection' }).click();
    await page.locator('#log li', { hasText: `Cut 1 socket(s) at process ${owner}` }).waitFor();
    // The balancer gives the reconnection to the process after the owner: the WebSocket (or
    // SSE) resume lands there, and that process takes the session over (no 421/4421 refusal,
    // no fallback).
    const resumed = page.locator('#log li', { hasText: `(taken over from ${owner})` });
    await resumed.waitFor();
    const now = new RegExp(`Resumed the session on ${transport} at process (p\\d) \\(taken over from `).exec((await resumed.textContent()) ?? '')?.[1];
    assert.ok(now !== undefined, (await resumed.textContent()) ?? '');
    assert.notEqual(now, owner);
    return now;
  }

  it('resumes after "Cut connection" on WebSocket at another process, which takes the session over: nothing lost, nothing twice', async () => {
    const owner = await processOf(ada);
    const sentBefore = Number(await text(ada, 'count-sent'));
    assert.ok(sentBefore > 0);
    const now = await cutAndTakeOver(ada);
    await ada.locator('#log li', { hasText: 'Caught up: the' }).waitFor();
    await ada.waitForFunction(() => document.getElementById('count-received')?.textContent === document.getElementById('count-sent')?.textContent);
    assert.equal(await text(ada, 'status-text'), 'Live over websocket');
    assert.equal(await processOf(ada), now, 'the page names the process that took the session over');
    assert.equal(await ada.locator('#log li', { hasText: 'does not hold this session' }).count(), 0, 'no process refused the resume');

    // The new process goes on numbering from the last message the old one sent: wait for a
    // few of its own, then read the counters in one evaluate (ticks arrive between reads).
    const afterMove = Number(await text(ada, 'count-sent'));
    await ada.waitForFunction((n) => Number(document.getElementById('count-received')?.textContent) >= n + 4, afterMove);
    const [sent = 0, received, lost, twice] = await ada.evaluate(() => ['count-sent', 'count-received', 'count-lost', 'count-twice'].map((id) => Number(document.getElementById(id)?.textContent)));
    assert.ok(sent >= sentBefore + 20, `the server sent ${sent}, ${sentBefore} before the cut`);
    assert.deepEqual({ received, lost, twice }, { received: sent, lost: 0, twice: 0 });
    // Its samples, not the old process's (a per-process audience does not move with the session).
    await ada.waitForFunction((on) => document.getElementById('cluster-process')?.textContent === on, now);

    // The chat goes on both ways, through the new process.
    await ada.getByRole('textbox', { name: 'Message', exact: true }).fill(`Back, on ${now}`);
    await ada.getByRole('button', { name: 'Send' }).click();
    const line = grace.locator('#messages li', { hasText: `Back, on ${now}` });
    await line.waitFor();
    assert.equal(await line.locator('.chip-process').textContent(), now);
    await grace.getByRole('textbox', { name: 'Message', exact: true }).fill('Welcome back');
    await grace.getByRole('button', { name: 'Send' }).click();
    await ada.locator('#messages li', { hasText: 'Welcome back' }).waitFor();

    // Grace sees Ada once in "Here now", at her new process (the old one said nothing: she did
    // not leave); and Ada still sees herself and Grace.
    await grace.waitForFunction((on) => {
      const adas = [...document.querySelectorAll('#members li')].filter((li) => li.querySelector('.member-name')?.textContent === 'Ada');
      return adas.length === 1 && adas[0]?.querySelector('.chip-process')?.textContent === on && document.querySelectorAll('#members li').length === 2;
    }, now);
    await ada.waitForFunction((on) => [...document.querySelectorAll('#members li')].some((li) => li.textContent?.includes('(you)') && li.querySelector('.chip-process')?.textContent === on) && document.querySelectorAll('#members li').length === 2, now);
    assert.notEqual(owner, now);
    assert.deepEqual(errors, []);
  });

  it('saves demo-cluster.png (docs/images with UPDATE_SCREENSHOTS=1)', async () => {
    const dir = process.env['UPDATE_SCREENSHOTS'] === '1' ? 'docs/images' : 'spec/.artifacts';
    mkdirSync(dir, { recursive: true });
    await ada.screenshot({ path: `${dir}/demo-cluster.png`, fullPage: true });
  });

  it('moves a tab whose process was killed to a new session on a process still running', async () => {
    // The cut may have moved Ada onto Grace's process (the next one in turn): then move Grace
    // on too, by another takeover, so that the kill takes her tab only.
    if ((await processOf(grace)) === (await processOf(ada))) await cutAndTakeOver(grace);
    assert.notEqual(await processOf(grace), await processOf(ada));
    const dead = await processOf(grace);
    const backend = cluster.backends.find((b) => b.label === dead);
    assert.ok(backend?.pid !== undefined);
    process.kill(backend.pid, 'SIGKILL');
    // Its session is unknown everywhere within deadAfter (15 s): the page starts afresh.
    await grace.locator('#log li', { hasText: 'The server no longer knows this session' }).waitFor({ timeout: 30_000 });
    await grace.waitForFunction((gone) => /^p\d$/.test(document.getElementById('fact-process')?.textContent ?? '') && document.getElementById('fact-process')?.textContent !== gone, dead, { timeout: 30_000 });
    await grace.locator('#status[data-state="open"]').waitFor();
    // And Ada sees Grace again, on her new process, once the dead process's part is forgotten.
    const now = await processOf(grace);
    await ada.waitForFunction((on) => [...document.querySelectorAll('#members li')].some((li) => li.textContent?.includes('Grace') && li.querySelector('.chip-process')?.textContent === on), now, { timeout: 15_000 });
    await ada.waitForFunction(() => document.querySelectorAll('#members li').length === 2);
  });

  it('takes an SSE session over too (after a process died): its POSTs go to the new process, nothing lost, nothing twice', async () => {
    const linus = await open('transport=sse&room=random&name=Linus');
    const now = await cutAndTakeOver(linus, 'sse');
    await linus.locator('#log li', { hasText: 'Caught up: the' }).waitFor();
    const afterMove = Number(await text(linus, 'count-sent'));
    await linus.waitForFunction((n) => Number(document.getElementById('count-received')?.textContent) >= n + 4, afterMove);
    const [sent = 0, received, lost, twice] = await linus.evaluate(() => ['count-sent', 'count-received', 'count-lost', 'count-twice'].map((id) => Number(document.getElementById(id)?.textContent)));
    assert.deepEqual({ received, lost, twice }, { received: sent, lost: 0, twice: 0 });
    assert.equal(await text(linus, 'status-text'), 'Live over sse');
    // Its restore (a POST, forwarded to the new process) put it back in #random, listed there.
    await linus.getByRole('textbox', { name: 'Message', exact: true }).fill('Still here');
    await linus.getByRole('button', { name: 'Send' }).click();
    assert.equal(await linus.locator('#messages li', { hasText: 'Still here' }).locator('.chip-process').textContent(), now);
    await linus.waitForFunction((on) => [...document.querySelectorAll('#members li')].some((li) => li.textContent?.includes('(you)') && li.querySelector('.chip-process')?.textContent === on && li.querySelector('.chip-sse') !== null), now);
    await linus.close();
  });
});

describe('cluster demo with one process, in Chromium', { skip }, () => {
  let cluster: Cluster;
  let browser: Browser;

  before(async () => {
    cluster = await startCluster({ redisUrl: sharedRedisUrl, processes: 1, port: 0, host: '127.0.0.1', prefix: testPrefix() });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await cluster?.close();
  });

  it('says a resume on the session\'s own process is at that process, not a takeover', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${cluster.balancer.url}/?transport=websocket&room=lobby&name=Ada`);
    await page.locator('#status[data-state="open"]').waitFor();
    await page.locator('#fact-process .chip-process').waitFor();
    await page.getByRole('button', { name: 'Cut connection' }).click();
    // The only process takes its own session back: the page asks it where it is (`where`).
    await page.locator('#log li', { hasText: /Resumed the session on websocket at process p1 after \d+ ms away$/ }).waitFor();
    await page.locator('#log li', { hasText: 'Caught up: the' }).waitFor();
    const [sent = 0, received, lost, twice] = await page.evaluate(() => ['count-sent', 'count-received', 'count-lost', 'count-twice'].map((id) => Number(document.getElementById(id)?.textContent)));
    assert.deepEqual({ received, lost, twice }, { received: sent, lost: 0, twice: 0 });
    assert.equal(await page.locator('#log li', { hasText: 'taken over' }).count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
