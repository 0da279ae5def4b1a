import { closeReasons, type CloseReason } from '../protocol/close-reasons.js';

/**
 * Why a new channel or a session request was refused: the stable error code its client was
 * answered with (docs/protocol.md, "Errors"). A bounded set, so it can label a metric.
 */
export type RefusalCause =
  | 'origin-not-allowed'
  | 'shutting-down'
  | 'bad-handshake'
  | 'bad-request'
  | 'json-required'
  | 'secret-required'
  | 'secret-mismatch'
  | 'internal-error'
  | 'resume-refused'
  | 'unknown-session'
  | 'session-elsewhere'
  | 'owner-unreachable'
  | 'out-of-order'
  | 'payload-too-large'
  | 'busy';

/** Every {@link RefusalCause}, in a fixed order. */
export const refusalCauses: readonly RefusalCause[] = [
  'origin-not-allowed',
  'shutting-down',
  'bad-handshake',
  'bad-request',
  'json-required',
  'secret-required',
  'secret-mismatch',
  'internal-error',
  'resume-refused',
  'unknown-session',
  'session-elsewhere',
  'owner-unreachable',
  'out-of-order',
  'payload-too-large',
  'busy',
];

/**
 * Counters behind `live.stats()` and `express-channel/metrics`. Plain numbers incremented
 * where the event happens and read only at scrape time: counting costs an increment and
 * nothing else on the send path.
 */
export interface Counters {
  /** Messages written or queued to clients (broadcast deliveries count one each). */
  sent: number;
  /** Payload bytes of those messages (not the framing, not replays). */
  sentBytes: number;
  dropped: number;
  received: number;
  /** Plain channels closed with 'slow-consumer' and session connections cut for being too slow. */
  slowConsumers: number;
  /** Session clients that came back on a new connection (a poll after a poll is not one). */
  resumes: number;
  /** Resumes whose hello reported a gap: messages no longer buffered. */
  gaps: number;
  closes: Record<CloseReason, number>;
  refusals: Record<RefusalCause, number>;
}

export function newCounters(): Counters {
  return {
    sent: 0,
    sentBytes: 0,
    dropped: 0,
    received: 0,
    slowConsumers: 0,
    resumes: 0,
    gaps: 0,
    closes: zeroes(closeReasons),
    refusals: zeroes(refusalCauses),
  };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}
