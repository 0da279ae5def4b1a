// The shapes `live` hands to users (its stats, its error listeners), apart from the hub that
// implements them: hub.ts loads `ws`, and a type imported from it would make the published
// declarations import 'ws' too, so every user would need @types/ws installed.
import type { AdapterStats } from './groups/adapter.js';
import type { Refusals } from './http/admission.js';
import type { TransportName } from './transports/wire.js';

/** What `live.stats()` returns. */
export interface ChannelStats {
  /** Open channels per transport. */
  open: Record<TransportName, number>;
  /** Messages written or queued to clients since start (broadcast deliveries count one each). */
  sent: number;
  /** Messages skipped by the `'drop'` buffer policy. */
  dropped: number;
  /** Client messages received. */
  received: number;
  /** Messages waiting in session buffers for their client to come back. */
  queued: number;
  /** New channels refused by `maxChannels` and by `maxChannelsPerIp`, since start. */
  refused: Refusals;
  /** WebSocket upgrades waiting for their turn under `handshakeRate` (a storm in progress). */
  handshakesWaiting: number;
  /** With an adapter that reports them: broadcasts through it, and its connection. */
  adapter?: AdapterStats;
}

/** Listens for errors the library could not hand to a caller (handler throws, I/O). */
export type ErrorListener = (error: Error) => void;
