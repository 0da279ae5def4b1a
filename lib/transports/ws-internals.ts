import { Duplex } from 'node:stream';
import * as wsModule from 'ws';
import type { WebSocket } from 'ws';

// Every read of something `ws` does not publish (README, @types/ws) is in this file, so that
// an upgrade of ws that moves one breaks one place, and spec/transports/ws-internals.spec.ts
// names the field. Each read has a fallback through ws's public API: slower, never wrong.
// What is read is decided once (per process for the frame builder, per connection for the
// rest), so that a broadcast's hot path stays a field check.

/**
 * `Sender.frame(data, options)`: ws's own frame builder, exported by ws (and marked public in
 * its source) but not declared by @types/ws. A broadcast builds its frame with it once and
 * writes those bytes to every member's socket instead of having ws frame it per member.
 * Called through `Sender` each time, not captured: a test may count its calls.
 */
interface FrameOptions {
  fin: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
  rsv1: boolean;
}
type FrameBuilder = (data: Buffer, options: FrameOptions) => Buffer[];
const { Sender } = wsModule as unknown as { Sender?: { frame?: FrameBuilder } };

/**
 * True if this ws exports its frame builder. Without it no broadcast frame is prebuilt:
 * every connection sends through `ws.send` (see `webSocketInternals`).
 */
export const canBuildFrames = typeof Sender?.frame === 'function';

/** Builds one unmasked, final server frame (opcode 1 text, 2 binary), as ws would. */
export function buildServerFrame(data: Buffer, opcode: 1 | 2): Buffer[] {
  // Never reached without the builder: the wires then send through ws.send (see above).
  if (typeof Sender?.frame !== 'function') throw new Error('this version of ws does not export Sender.frame: send through ws.send');
  return Sender.frame(data, { fin: true, opcode, mask: false, readOnly: true, rsv1: false });
}

/**
 * The two fields of ws's private `Sender` (`ws._sender`) that tell whether it holds anything
 * of its own back. `_state` is 0 (ws's `DEFAULT`) unless a message is being deflated
 * (permessage-deflate, 1) or a Blob read (2); `_queue` holds the sends that wait behind it.
 * A frame written straight to the socket while either is pending would overtake them.
 */
export interface SenderState {
  readonly _state: number;
  readonly _queue: readonly unknown[];
}

/** What a WebSocketWire reads of ws's connection, decided once when it is created. */
export interface WebSocketInternals {
  /**
   * `ws._socket`: the stream ws writes this connection's frames to. We cork it for the
   * rest of the tick, so that a burst of messages leaves as one writev, and write prebuilt
   * broadcast frames to it. Null if missing: no cork, every send through ws.
   */
  readonly socket: Duplex | null;
  /**
   * `ws._sender`, when a prebuilt frame may be written straight to `socket` (checked with
   * `senderIdle` before each write). Null when it is missing or not shaped as expected, when
   * it writes elsewhere than `socket`, or when there is no frame builder: broadcasts then go
   * through `ws.send(payload)`, which keeps order by construction.
   */
  readonly sender: SenderState | null;
}

/** Reads, once per connection, the internals a WebSocketWire may use (see above). */
export function webSocketInternals(ws: WebSocket): WebSocketInternals {
  const internals = ws as unknown as { _socket?: unknown; _sender?: unknown };
  const socket = internals._socket instanceof Duplex ? internals._socket : null;
  const sender = socket !== null && canBuildFrames && isSenderOf(internals._sender, socket) ? internals._sender : null;
  return { socket, sender };
}

// `_socket` of the sender is the stream it writes to: ours must be the same one, or the
// order we keep with it would be the order of another stream.
function isSenderOf(sender: unknown, socket: Duplex): sender is SenderState {
  if (typeof sender !== 'object' || sender === null) return false;
  const fields = sender as { _state?: unknown; _queue?: unknown; _socket?: unknown };
  return typeof fields._state === 'number' && Array.isArray(fields._queue) && fields._socket === socket;
}

/** True while ws's sender holds nothing back: a frame written now keeps its order. */
export function senderIdle(sender: SenderState): boolean {
  return sender._state === 0 && sender._queue.length === 0;
}

/**
 * The close code ws sends for a protocol error it raised. ws tags such errors with it
 * under a private symbol (`kStatusCode`, described 'status-code'); without that symbol, the
 * public `code` of the error (documented in ws's doc/ws.md) gives it.
 */
export function closeCodeOfError(error: Error): number {
  const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
  const code = symbol === undefined ? undefined : (error as unknown as Record<symbol, unknown>)[symbol];
  if (typeof code === 'number') return code;
  const name = (error as { code?: string }).code;
  if (name === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 1009;
  if (name === 'WS_ERR_INVALID_UTF8') return 1007;
  return 1002;
}
