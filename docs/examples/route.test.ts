// A user's route tested with express-channel/testing (docs/testing.md). This file is a test
// itself: spec/examples-testing.spec.ts runs it, and so can you:
//   node --import tsx --test docs/examples/route.test.ts
//
// In your project, import from 'express-channel' and 'express-channel/testing' instead.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import express from 'express';
import { channels } from '../../lib/index.js';
import { testScope } from '../../lib/testing/index.js';

// The app under test: an echo route, open to every transport.
function createApp() {
  const live = channels();
  const app = express();
  app.use(live);
  app.get('/echo', (req) => {
    const ch = req.channel!;
    ch.onReceive((message) => ch.send(`echo: ${String(message)}`));
  });
  return { app, live };
}

const scope = testScope(afterEach); // Jest, Vitest and Mocha: their own afterEach

test('GET /echo echoes over a WebSocket and over the polling client', async () => {
  const { app, live } = createApp();
  const server = await scope.listen(app, { live });
  const ws = await scope.webSocket(server.wsUrl('/echo'));
  ws.send('hi');
  assert.equal(await ws.next(), 'echo: hi');
  const client = scope.client(server.url('/echo'), { transports: ['poll'] });
  client.send('ho');
  assert.equal(await client.next(), 'echo: ho');
});
