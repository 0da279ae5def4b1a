/**
 * Helpers for testing routes that use `req.channel`, with any test runner:
 * `import { testScope } from 'express-channel/testing'`. Guide: docs/testing.md.
 * @module express-channel/testing
 */
// express-channel/testing: helpers for testing routes that use req.channel, with any test
// runner (none is imported). Named exports only.
export { testScope, TestScope } from './scope.js';
export type { AfterHook, TestContextLike } from './scope.js';
export type { ListenOptions, TestServer } from './server.js';
export { TestWebSocket } from './web-socket.js';
export type { WebSocketMessage } from './web-socket.js';
export { TestEventStream } from './event-stream.js';
export type { EventSourceMessage } from './event-stream.js';
export { TestRequest } from './http-request.js';
export type { RequestOptions, ResponseHead } from './http-request.js';
export { TestClient } from './client.js';
export type { Ended } from './inbox.js';
export { cutSocket } from './cut.js';
export { within } from './within.js';
