import type { Payload } from '../transports/wire.js';
import type { ChannelCore } from './core.js';

/** What became of a POST of client messages (docs/protocol.md, "Sending"). */
export interface PostOutcome {
  received: number;
  outcome: 'ok' | 'out-of-order' | 'closed' | 'busy';
}

/** Client messages POSTed to a session channel, the first numbered `first`. */
export function receivePosted(channel: ChannelCore, { first, messages, maxHeld }: { first: number; messages: readonly Payload[]; maxHeld: number }): PostOutcome {
  const session = channel.session;
  if (session === undefined || !channel.isOpen) return { received: 0, outcome: 'closed' };
  if (first > session.received + 1) return { received: session.received, outcome: 'out-of-order' };
  // Skip what an earlier (retried) POST already delivered; take no more than the handler
  // can be holding for (a client POSTing to a route that never listens is told to wait).
  for (const message of messages.slice(session.received + 1 - first)) {
    if (!channel.isOpen || channel.heldCount >= maxHeld) break;
    channel.accept(message);
  }
  const accepted = session.received >= first;
  if (!accepted && channel.heldCount >= maxHeld && first === session.received + 1) return { received: session.received, outcome: 'busy' };
  return { received: session.received, outcome: 'ok' };
}
