// `live` instances in this process standing for processes of a cluster (spec/redis/*.spec.ts):
// each has its own Redis connections, as separate processes would. Their `/live` route adds
// every channel to the group `room` and hands it to the test.
import type { TestContext } from 'node:test';
import express from 'express';
import { channels, type Channel, type ChannelsOptions, type Live } from '../../lib/index.js';
import { redisAdapter, type RedisAdapterOptions } from '../../lib/redis/index.js';
import { Inbox, serve, type Served } from '../support/harness.js';

export interface Instance extends Served {
  live: Live;
  errors: Inbox<Error>;
  joined: Inbox<Channel>;
}

/** One "process": an app whose `/live` route adds every channel to the group `room`. */
export async function instance(t: TestContext, adapter: RedisAdapterOptions, options: ChannelsOptions = {}): Promise<Instance> {
  const live = channels({ ...options, adapter: redisAdapter(adapter) });
  const errors = new Inbox<Error>();
  live.on('error', (error) => errors.push(error));
  const joined = new Inbox<Channel>();
  const app = express();
  app.use(live);
  app.get('/live', (req) => {
    live.group('room').add(req.channel!);
    joined.push(req.channel!);
  });
  return { ...(await serve(t, app, live)), live, errors, joined };
}

/** Resolves once `check` holds, asking again (the state may live in Redis) at most `ms` long. */
export async function eventually(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
