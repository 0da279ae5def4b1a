// A connection's events as they travel between tabs: the leader turns each into plain data
// (a BroadcastChannel clones data, not Event objects), every tab builds the event again.
import { ClientError } from '../errors.js';
import {
  ChannelCloseEvent, ChannelErrorEvent, GapEvent, OpenEvent, ReconnectingEvent, TransportEvent, type ConnectionEventMap,
} from '../events.js';
import type { RelayedEvent } from './tab-messages.js';

/** The events a leader relays: all but `message`, which travels with its data (tab-messages.ts). */
export const relayedTypes = ['open', 'transport', 'gap', 'reconnecting', 'error', 'close'] as const;

type Relayable = ConnectionEventMap[(typeof relayedTypes)[number]];

/** The data of a connection event. */
export function toRelayed(event: Relayable): RelayedEvent {
  if (event instanceof OpenEvent) return { type: 'open', transport: event.transport, resumed: event.resumed };
  if (event instanceof TransportEvent) return { type: 'transport', transport: event.transport, previous: event.previous };
  if (event instanceof GapEvent) return { type: 'gap', first: event.first, last: event.last };
  if (event instanceof ReconnectingEvent) return { type: 'reconnecting', attempt: event.attempt, delay: event.delay };
  if (event instanceof ChannelErrorEvent) {
    const { error, transport } = event;
    return { type: 'error', code: error.code, message: error.message, status: error.status, transport };
  }
  return { type: 'close', code: event.code, reason: event.reason, wasClean: event.wasClean, sessionGone: event.sessionGone };
}

/** The connection event again, in a tab. */
export function fromRelayed(event: RelayedEvent): Relayable {
  switch (event.type) {
    case 'open':
      return new OpenEvent(event.transport, event.resumed);
    case 'transport':
      return new TransportEvent(event.transport, event.previous);
    case 'gap':
      return new GapEvent(event.first, event.last);
    case 'reconnecting':
      return new ReconnectingEvent(event.attempt, event.delay);
    case 'error':
      return new ChannelErrorEvent(new ClientError(event.code, event.message, event.status), event.transport);
    case 'close':
      return new ChannelCloseEvent(event.code, event.reason, event.wasClean, event.sessionGone);
  }
}
