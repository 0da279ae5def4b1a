/**
 * Why a channel closed. The names are http-kit's (one per WebSocket close code, plus
 * `server-close` and `client-close`), with the reasons a server needs added.
 */
export type CloseReason =
  | 'server-close'
  | 'client-close'
  | 'normal'
  | 'going-away'
  | 'protocol-error'
  | 'unsupported'
  | 'no-status-received'
  | 'abnormal'
  | 'invalid-payload-data'
  | 'policy-violation'
  | 'message-too-big'
  | 'mandatory-extension'
  | 'internal-server-error'
  | 'unknown'
  | 'client-away'
  | 'slow-consumer'
  | 'shutdown'
  | 'moved';

const reasonByCode: ReadonlyMap<number, CloseReason> = new Map([
  [1000, 'normal'],
  [1001, 'going-away'],
  [1002, 'protocol-error'],
  [1003, 'unsupported'],
  [1005, 'no-status-received'],
  [1006, 'abnormal'],
  [1007, 'invalid-payload-data'],
  [1008, 'policy-violation'],
  [1009, 'message-too-big'],
  [1010, 'mandatory-extension'],
  [1011, 'internal-server-error'],
]);

/** The close reason for a WebSocket close code received from (or on behalf of) the peer. */
export function reasonForCloseCode(code: number): CloseReason {
  return reasonByCode.get(code) ?? 'unknown';
}

// The code the server sends when it closes a WebSocket for a reason. 1005 and 1006 are
// reserved and must never be sent on the wire (RFC 6455 §7.4.1), so they map to 1000.
const codeByReason: Readonly<Record<CloseReason, number>> = {
  'server-close': 1000,
  'client-close': 1000,
  normal: 1000,
  'going-away': 1001,
  'protocol-error': 1002,
  unsupported: 1003,
  'no-status-received': 1000,
  abnormal: 1000,
  'invalid-payload-data': 1007,
  'policy-violation': 1008,
  'message-too-big': 1009,
  'mandatory-extension': 1010,
  'internal-server-error': 1011,
  unknown: 1000,
  'client-away': 1001,
  'slow-consumer': 1008,
  shutdown: 1001,
  // The session went on on another process (a takeover): 1012, service restart, which no
  // client takes as the end of its session.
  moved: 1012,
};

/** Every close reason, in a fixed order (a bounded label set for metrics). */
export const closeReasons: readonly CloseReason[] = Object.keys(codeByReason) as CloseReason[];

/** The WebSocket close code the server sends when it closes a channel for `reason`. */
export function closeCodeForReason(reason: CloseReason): number {
  return codeByReason[reason];
}

/** True if `value` is one of the documented close reasons. */
export function isCloseReason(value: unknown): value is CloseReason {
  return typeof value === 'string' && Object.hasOwn(codeByReason, value);
}
