// docs/scaling.md's nginx config (round robin over three processes, nothing sticky) against
// three real processes of one app on the shared Redis: polling works across them, and a
// WebSocket or SSE session whose process drops its connections resumes through nginx on
// another process, which takes it over with nothing lost. nginx runs from its own config, on
// its own port (spec/support/nginx.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { connect } from '../../lib/client/node.js';
import { freePort } from '../support/harness.js';
import { nextEvent, until } from '../client/support.js';
import { nginxMissing, startNginx } from '../support/nginx.js';
import { withoutRedis } from '../support/redis.js';
import { cluster, handled, handledAtLeast, quick, reported, reportsOf, type Member } from './members.js';

const skip = (await withoutRedis()) || nginxMissing('the nginx cluster spec');

/** The `# round robin` block of docs/scaling.md, listening on `port`, its upstreams the members' ports. */
function roundRobinConfig(port: number, members: Member[]): string {
  const docs = readFileSync(new URL('../../docs/scaling.md', import.meta.url), 'utf8');
  const block = [...docs.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((text) => text.startsWith('# round robin\n'));
  if (block === undefined) throw new Error('docs/scaling.md has no ```nginx block starting "# round robin"');
  let config = block.replace('listen 80;', `listen 127.0.0.1:${port};`);
  members.forEach((member, i) => (config = config.replace(`127.0.0.1:${3001 + i}`, `127.0.0.1:${member.port}`)));
  return config;
}

async function behindNginx(t: Parameters<typeof cluster>[0]): Promise<{ members: Member[]; origin: string }> {
  const members = await cluster(t);
  const port = await freePort();
  const nginx = await startNginx(t, roundRobinConfig(port, members), port);
  return { members, origin: nginx.origin };
}

describe("docs/scaling.md's nginx round robin in front of three processes", { skip }, () => {
  it('serves a polling client across the three: 100 messages each way, once, in order', async (t) => {
    const { members, origin } = await behindNginx(t);
    const conn = connect(`${origin}/live`, { ...quick, transports: ['poll'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const got: string[] = [];
    conn.addEventListener('message', (event) => got.push(String(event.data)));
    const sent = Array.from({ length: 100 }, (_, i) => `c${i}`);
    for (const text of sent) conn.send(text);
    const down = Array.from({ length: 100 }, (_, i) => `s${i}`);
    members[1]!.ask({ op: 'broadcast', texts: down });
    await until(conn, 'message', () => got.length >= down.length, 20_000);
    assert.deepEqual(got, down);
    await handledAtLeast(members, sent.length, 10_000);
    assert.deepEqual(handled(members), sent);
  });

  for (const transport of ['websocket', 'sse'] as const) {
    it(`resumes a ${transport} session whose process dropped its connections on another process, which takes it over`, async (t) => {
      const { members, origin } = await behindNginx(t);
      const conn = connect(`${origin}/live`, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const got: string[] = [];
      conn.addEventListener('message', (event) => got.push(String(event.data)));
      const owner = await Promise.race(members.map((m) => reported(m, 'joined', 5000).then(() => m)));
      const other = members.find((m) => m !== owner) as Member;
      const reopened = nextEvent(conn, 'open', 15_000);
      owner.ask({ op: 'cut' });
      await reported(owner, 'cut');
      other.ask({ op: 'broadcast', texts: ['while away'] });
      const open = await reopened;
      assert.deepEqual([open.transport, open.resumed], [transport, true]);
      other.ask({ op: 'broadcast', texts: ['after'] });
      await until(conn, 'message', () => got.length >= 2, 10_000);
      assert.deepEqual(got, ['while away', 'after']);
      // nginx's round robin sends the reconnection to the next process: the session moved there.
      assert.deepEqual(reportsOf(members, 'channel-closed').map((r) => r.reason), ['moved']);
      assert.deepEqual(reportsOf(members, 'joined').map((r) => r.resumed), [false, true]);
    });
  }
});
