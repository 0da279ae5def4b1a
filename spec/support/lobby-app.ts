// An app where every channel of `/live` joins one group, 'lobby', and every `live` error is
// kept: the setup of the specs that replay orders of events or inject failures in a group.
import type { TestContext } from 'node:test';
import express, { type Request } from 'express';
import { channels, type Channel, type ChannelGroup, type ChannelsOptions, type Live } from '../../lib/index.js';
import { serve, type Served } from './harness.js';

/** Serves `channels({ heartbeat: 0, ...options })`; `/live` adds its channel to 'lobby', then calls `route`. */
export async function lobbyApp(
  t: TestContext,
  options: ChannelsOptions,
  route: (channel: Channel, req: Request) => void,
): Promise<{ live: Live; lobby: ChannelGroup; served: Served; errors: Error[] }> {
  const live = channels({ heartbeat: 0, ...options });
  const errors: Error[] = [];
  live.on('error', (error) => errors.push(error));
  const app = express();
  app.use(live);
  const lobby = live.group('lobby');
  app.get('/live', (req) => {
    const ch = req.channel!;
    lobby.add(ch);
    route(ch, req);
  });
  return { live, lobby, served: await serve(t, app, live), errors };
}
