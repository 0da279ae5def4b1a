// The options of redisAdapter() (adapter.ts), and their check: a misspelt name or a value out
// of range throws at once, as the other options of express-channel do.
import type { RedisClientType } from 'redis';
import { invalidArgument } from '../errors.js';

/** Options of `redisAdapter()` (express-channel/redis). */
export interface RedisAdapterOptions {
  /** Where Redis is, as `redis://host:port/db`; the adapter makes and closes its own clients. */
  url?: string;
  /**
   * A client the app already has (the `redis` package, version 5 or 6). The adapter uses it
   * to publish and count, duplicates it for its subscription, and leaves it open on close.
   */
  client?: RedisClientType;
  /**
   * The prefix of every key and channel: processes with the same prefix on the same Redis
   * form one cluster.
   * @defaultValue 'ec'
   */
  prefix?: string;
  /**
   * A process that has not been heard of for this long stops counting in `group.count()`.
   * @defaultValue 15000
   */
  deadAfter?: number;
  /**
   * How broadcasts travel. `'pubsub'`: one `PUBLISH` per broadcast, at most once (what a
   * process misses while its connection is down is a gap, told). `'streams'`: one `XADD` per
   * broadcast into the group's Redis Stream, read by every process with members of the group
   * from where it stopped, so a reconnect or a Redis restarted with its data loses nothing
   * (docs/scaling.md, "Streams mode").
   * @defaultValue 'pubsub'
   */
  mode?: 'pubsub' | 'streams';
  /**
   * Streams mode: each group's stream is kept near this many entries (`XADD … MAXLEN ~`); a
   * process away for longer than the stream covers is told of a gap.
   * @defaultValue 10000
   */
  streamLength?: number;
  /**
   * Streams mode: entries older than this many milliseconds are trimmed (`XTRIM MINID ~`, by
   * each publishing process about every tenth of it), and a stream nobody adds to expires after twice it.
   * @defaultValue 600000 (10 minutes)
   */
  streamAge?: number;
  /**
   * Streams mode: broadcasts kept in this process while Redis is away, sent when it is back.
   * Past it, newer broadcasts are not kept: the other processes' session members are told of a gap.
   * @defaultValue 10000
   */
  backlogLimit?: number;
}

const optionNames = new Set(['url', 'client', 'prefix', 'deadAfter', 'mode', 'streamLength', 'streamAge', 'backlogLimit']);

export function checkOptions(options: RedisAdapterOptions): void {
  for (const name of Object.keys(options)) {
    if (!optionNames.has(name)) throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `redisAdapter() has no option ${JSON.stringify(name)}; it takes ${[...optionNames].join(', ')}`);
  }
  if (options.mode !== undefined && options.mode !== 'pubsub' && options.mode !== 'streams') {
    throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `redisAdapter({ mode }) is 'pubsub' or 'streams', got ${JSON.stringify(options.mode)}`);
  }
  for (const name of ['deadAfter', 'streamLength', 'streamAge', 'backlogLimit'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw invalidArgument('ERR_CHANNEL_INVALID_OPTION', `redisAdapter({ ${name} }) takes a positive integer, got ${JSON.stringify(value)}`);
  }
}
