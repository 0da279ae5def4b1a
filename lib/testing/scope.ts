import type { RequestListener, Server } from 'node:http';
import type { ClientOptions } from 'ws';
import type { ConnectOptions } from '../client/node.js';
import { invalidArgument } from '../errors.js';
import { TestClient } from './client.js';
import { openEventStream, type TestEventStream } from './event-stream.js';
import { TestRequest, type RequestOptions } from './http-request.js';
import { listen, type ListenOptions, type TestServer } from './server.js';
import { openWebSocket, type TestWebSocket } from './web-socket.js';

/**
 * How a test runner runs something after a test: Jest's, Vitest's or Mocha's `afterEach`,
 * node:test's `afterEach` or a test context (`t`, whose `after` runs at the end of that test).
 */
export type AfterHook = ((cleanup: () => Promise<void>) => unknown) | TestContextLike;

/** A test context with an `after` hook: node:test's `t`. */
export interface TestContextLike {
  /** Runs `cleanup` at the end of the test. */
  after(cleanup: () => Promise<void>): unknown;
}

/**
 * Everything one test opened (servers, clients), closed together by {@link TestScope.close}.
 * Made by {@link testScope}.
 */
export class TestScope {
  #cleanups: Array<() => unknown> = [];

  /**
   * Serves an app (any request listener: Express, Connect, a plain function) or an
   * `http.Server` not listening yet on an ephemeral port of 127.0.0.1. With `live`, WebSocket upgrades are
   * routed through it (`live.attach`), and `live.close()` runs first at cleanup.
   */
  async listen(target: RequestListener | Server, options: ListenOptions = {}): Promise<TestServer> {
    const { served, close } = await listen(target, options);
    this.defer(close);
    return served;
  }

  /** Opens a raw WebSocket (`ws`); resolves after the 101, or fails with the status that refused it. */
  async webSocket(url: string, options?: ClientOptions): Promise<TestWebSocket> {
    const ws = await openWebSocket(url, options);
    this.defer(() => ws.ws.terminate());
    return ws;
  }

  /** Opens a raw event stream (`Accept: text/event-stream`); resolves once its head arrived. */
  async eventStream(url: string, options?: RequestOptions): Promise<TestEventStream> {
    const stream = await openEventStream(url, options);
    this.defer(() => stream.cut());
    return stream;
  }

  /** Sends a plain HTTP request (a long-poll, a stream) on a connection of its own; returns at once. */
  http(url: string, options?: RequestOptions): TestRequest {
    const request = new TestRequest(url, options);
    this.defer(() => request.cut());
    return request;
  }

  /** Connects the library's client (`express-channel/client`), which reconnects and resumes by itself. */
  client(url: string, options?: ConnectOptions): TestClient {
    const client = new TestClient(url, options);
    this.defer(() => client.close());
    return client;
  }

  /** Runs `cleanup` at {@link TestScope.close}, before what was registered earlier. */
  defer(cleanup: () => unknown): void {
    this.#cleanups.push(cleanup);
  }

  /**
   * Closes what the test opened, the last first: clients, then each server (its `live`
   * first, so clients are told of the shutdown), then any socket left. Every cleanup runs,
   * even when one fails; the failures are thrown together afterwards.
   */
  async close(): Promise<void> {
    const cleanups = this.#cleanups.reverse();
    this.#cleanups = [];
    const errors: unknown[] = [];
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`);
  }
}

/**
 * A scope for the helpers of one test, closed after it by the runner's hook. No runner is
 * imported: pass its `afterEach` (Jest, Vitest, Mocha, node:test), or node:test's test
 * context `t`. Without a hook, call `scope.close()` yourself.
 * @example
 * ```ts
 * import { afterEach, test } from 'node:test'; // or Jest's, Vitest's, Mocha's globals
 * const scope = testScope(afterEach);
 * test('echoes', async () => {
 *   const server = await scope.listen(app, { live });
 *   const ws = await scope.webSocket(server.wsUrl('/echo'));
 *   ws.send('hi');
 *   assert.equal(await ws.next(), 'hi');
 * });
 * ```
 */
export function testScope(hook?: AfterHook): TestScope {
  const scope = new TestScope();
  const close = (): Promise<void> => scope.close();
  if (typeof hook === 'function') hook(close);
  else if (hook !== undefined && typeof hook.after === 'function') hook.after(close);
  else if (hook !== undefined) throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', "testScope(hook) takes the runner's afterEach, or a node:test context (with after()); got an object without after()");
  return scope;
}
