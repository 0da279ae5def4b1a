/**
 * Stable codes for every error this library raises, so callers can branch on `err.code`
 * instead of parsing messages.
 */
export type ChannelErrorCode =
  | 'ERR_CHANNEL_NOT_ATTACHED'
  | 'ERR_CHANNEL_ALREADY_ATTACHED'
  | 'ERR_CHANNEL_RESPONSE_SENT'
  | 'ERR_CHANNEL_INVALID_DATA'
  | 'ERR_CHANNEL_INVALID_FIELD'
  | 'ERR_CHANNEL_INVALID_REASON'
  | 'ERR_CHANNEL_INVALID_OPTION'
  | 'ERR_CHANNEL_HANDSHAKE'
  | 'ERR_CHANNEL_BROADCASTS_MISSED'
  | 'ERR_CHANNEL_ADAPTER'
  | 'ERR_CHANNEL_OWNER_GONE';

/**
 * The one error class of express-channel. Misuse (a bad argument) throws it synchronously;
 * I/O failures and errors thrown by user handlers are reported through `live.on('error')`.
 */
export class ChannelError extends Error {
  /** A stable, documented code. */
  readonly code: ChannelErrorCode;

  constructor(code: ChannelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChannelError';
    this.code = code;
  }
}

/**
 * A `TypeError` that also carries a stable code: bad arguments are type errors, as in Node's
 * own APIs, but callers still get something to branch on.
 */
export function invalidArgument(code: ChannelErrorCode, message: string): TypeError & { code: ChannelErrorCode } {
  return Object.assign(new TypeError(message), { code });
}
