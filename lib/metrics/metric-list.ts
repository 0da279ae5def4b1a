import type { ChannelHub } from '../hub.js';
import type { TransportName } from '../transports/wire.js';

/** One metric: what it is called (without the prefix), what it means, and how it is read. */
export interface MetricSpec {
  kind: 'counter' | 'gauge' | 'histogram';
  name: string;
  help: string;
  /** The one label of a labelled metric; `read` then returns a number per label value. */
  label?: string;
  read(): number | Record<string, number>;
}

const none = (): number => 0;

/**
 * Every metric of a `live` instance. Names follow Prometheus' conventions: base units
 * (seconds, bytes), `_total` on counters, and labels from bounded sets only (transports,
 * close reasons, refusal codes): never a channel id, a session id or, unless asked, a group.
 */
export function metricList(hub: ChannelHub, groups: readonly string[]): MetricSpec[] {
  const c = hub.counters;
  const specs: MetricSpec[] = [
    { kind: 'gauge', name: 'open_channels', label: 'transport', help: 'Open channels, by transport.', read: () => openByTransport(hub) },
    { kind: 'gauge', name: 'sessions', label: 'state', help: 'Sessions held, connected or awaiting their client (polling clients between two polls count as awaiting).', read: () => sessionsByState(hub) },
    { kind: 'gauge', name: 'session_queued_messages', help: 'Messages kept in session buffers until their client acknowledges them.', read: () => queuedMessages(hub) },
    { kind: 'counter', name: 'messages_sent_total', help: 'Messages written or queued to clients; each delivery of a broadcast counts one.', read: () => c.sent },
    { kind: 'counter', name: 'sent_bytes_total', help: 'Payload bytes of the messages sent (framing, headers and replays not counted).', read: () => c.sentBytes },
    { kind: 'counter', name: 'messages_received_total', help: 'Messages received from clients.', read: () => c.received },
    { kind: 'counter', name: 'messages_dropped_total', help: "Messages skipped by bufferPolicy 'drop' because the channel's buffer was full.", read: () => c.dropped },
    { kind: 'counter', name: 'slow_consumers_total', help: "Channels closed with 'slow-consumer', and session connections cut because their buffer was full.", read: () => c.slowConsumers },
    { kind: 'counter', name: 'closes_total', label: 'reason', help: 'Channels closed, by close reason.', read: () => ({ ...c.closes }) },
    { kind: 'counter', name: 'session_resumes_total', help: 'Session clients that came back on a new connection (a poll after a poll is not counted).', read: () => c.resumes },
    { kind: 'counter', name: 'session_gaps_total', help: 'Resumes told of a gap: messages no longer buffered were lost to that client.', read: () => c.gaps },
    { kind: 'gauge', name: 'handshakes_waiting', help: 'WebSocket upgrades waiting for their turn under handshakeRate (a reconnect storm in progress).', read: () => hub.pacer?.waiting ?? 0 },
    { kind: 'counter', name: 'refusals_total', label: 'cause', help: 'Connections and session requests refused, by the error code their client was answered with.', read: () => refusalsByCause(hub) },
    { kind: 'histogram', name: 'broadcast_fanout_seconds', help: "Time one broadcast's delivery loop took on this process (the event loop is blocked that long).", read: none },
  ];
  if (hub.options.adapter !== undefined) specs.push(...adapterMetrics(hub));
  if (groups.length > 0) {
    specs.push({ kind: 'gauge', name: 'group_members', label: 'group', help: 'Members on this process of the groups named in registerMetrics({ groups }).', read: () => Object.fromEntries(groups.map((name) => [name, hub.groups.membersOf(name)])) });
  }
  return specs;
}

// An adapter today offers publish and subscribe: what passes through them is counted by the
// registry. Its connection state comes from the optional `status()` (Adapter): the Redis
// adapter implements it, and any adapter that does gets the state metric.
function adapterMetrics(hub: ChannelHub): MetricSpec[] {
  const a = hub.groups.adapterCounters;
  const specs: MetricSpec[] = [
    { kind: 'counter', name: 'adapter_messages_total', label: 'direction', help: 'Broadcasts published through the adapter, and received from other processes.', read: () => ({ published: a.published, received: a.received }) },
    { kind: 'counter', name: 'adapter_publish_failures_total', help: 'Publishes that the adapter rejected or threw on (reported to live.on("error")).', read: () => a.publishFailed },
  ];
  const adapter = hub.options.adapter;
  if (adapter?.status !== undefined) {
    const status = adapter.status.bind(adapter);
    specs.push({ kind: 'gauge', name: 'adapter_state', label: 'state', help: "The adapter's connection: 1 for the state it is in, 0 for the others.", read: () => oneHot(['connected', 'connecting', 'disconnected'], status()) });
  }
  return specs;
}

function openByTransport(hub: ChannelHub): Record<TransportName, number> {
  const open: Record<TransportName, number> = { websocket: 0, sse: 0, http: 0, poll: 0 };
  for (const channel of hub.open) open[channel.transport]++;
  return open;
}

function sessionsByState(hub: ChannelHub): Record<'connected' | 'awaiting-client', number> {
  let awaiting = 0;
  for (const channel of hub.sessions) if (channel.session?.awaitingClient === true) awaiting++;
  return { connected: hub.sessions.size - awaiting, 'awaiting-client': awaiting };
}

function queuedMessages(hub: ChannelHub): number {
  let queued = 0;
  for (const channel of hub.sessions) queued += channel.session?.queued() ?? 0;
  return queued;
}

function refusalsByCause(hub: ChannelHub): Record<string, number> {
  const limits = hub.limitRefusals;
  return {
    ...hub.counters.refusals,
    'too-many-channels': limits.maxChannels,
    'too-many-channels-from-address': limits.maxChannelsPerIp,
    'handshake-busy': hub.pacer?.refused ?? 0,
  };
}

function oneHot(states: readonly string[], current: string): Record<string, number> {
  return Object.fromEntries(states.map((state) => [state, state === current ? 1 : 0]));
}
