// express-channel/redis: scale-out through Redis. The core package never imports this entry;
// it needs the optional peer dependency `redis`.
export { redisAdapter } from './adapter.js';
export type { RedisAdapterOptions } from './options.js';
export type { Adapter, AdapterEvents, AdapterMessage, AdapterStats } from '../groups/adapter.js';
