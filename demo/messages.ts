// The demo's own little protocol, carried as JSON text over one express-channel session per
// browser tab. Shared by the server (demo/*.ts) and the page (demo/page/*.ts): types only.
import type { AdapterStats } from '../lib/redis/index.js';
import type { TransportName } from '../lib/index.js';

/** One sample of `live.stats()`, turned into rates. */
export interface MetricsPoint {
  /** Server time of the sample, ms since the epoch. */
  t: number;
  /** Open channels per transport. */
  open: Record<TransportName, number>;
  /** Messages written to clients per second since the previous sample. */
  sentPerSecond: number;
  /** Client messages received per second since the previous sample. */
  receivedPerSecond: number;
  /** Messages waiting in session buffers for a client to come back. */
  queued: number;
  /** In the cluster demo (REDIS_URL): the whole cluster, as this process sees it. */
  cluster?: ClusterPoint;
}

/** What the processes of the cluster demo add to each sample. */
export interface ClusterPoint {
  /** The process that took the sample (the one serving the tab), e.g. `p1`. */
  process: string;
  /** Tabs on every live process: `await everyone.count()`. */
  tabs: number;
  /** Tabs on this process: `everyone.size`. */
  here: number;
  /** `live.stats().adapter`: broadcasts through Redis and its connection. */
  adapter?: AdapterStats | undefined;
}

export interface Member {
  /** The member's channel id, hashed: the id itself is a session secret. */
  key: string;
  name: string;
  transport: TransportName;
  /** In the cluster demo: the process that holds the member's session. */
  process?: string | undefined;
}

export interface ChatLine {
  id: number;
  room: string;
  from: string;
  /** The sender's {@link Member.key}. */
  key: string;
  transport: TransportName;
  /** In the cluster demo: the process the sender's session is on. */
  process?: string | undefined;
  text: string;
  /** ms since the epoch */
  at: number;
}

export interface RoomSummary {
  name: string;
  members: number;
}

/** Server → page. */
export type ServerMessage =
  /**
   * The first message of a session's route. `resumed`: the route ran again on the process that
   * took the session over (docs/scaling.md, "Takeover"), after every message of the old one;
   * the page answers with `restore`.
   */
  | { type: 'welcome'; key: string; process?: string | undefined; resumed?: boolean; metrics: MetricsPoint[]; interval: number; rooms: RoomSummary[] }
  /** The answer to `where`: the process serving the session. */
  | { type: 'here'; process?: string | undefined }
  | { type: 'metrics'; point: MetricsPoint }
  | { type: 'rooms'; rooms: RoomSummary[] }
  | { type: 'joined'; room: string; history: ChatLine[] }
  | { type: 'presence'; room: string; members: Member[]; process?: string | undefined }
  | { type: 'chat'; line: ChatLine }
  | { type: 'tick'; n: number }
  | { type: 'problem'; message: string };

/** Page → server. */
export type ClientMessage =
  | { type: 'join'; room: string; name: string }
  | { type: 'say'; text: string }
  /** After a resume, in the cluster demo: which process serves the session now? */
  | { type: 'where' }
  /**
   * The answer to a `resumed` welcome: what the process that took the session over cannot
   * know (the demo keeps it in each process's memory): the name and room the tab joined with,
   * and the last numbered message it received, so that the stream goes on from there.
   */
  | { type: 'restore'; name: string; room?: string | undefined; last: number };

/** Bounds that both sides check. */
export const limits = { name: 32, room: 24, text: 500 } as const;
