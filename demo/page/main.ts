// The dashboard: one express-channel session per tab carries metrics, chat and a numbered
// stream. The transport picker reconnects with the chosen transport list; the query string
// (?transport=poll&room=lobby&name=Ada&block=websocket) presets every choice.
import { connect, type Connection, type ConnectOptions, type TransportName } from '../../lib/client/index.js';
import type { ClientMessage, ClusterPoint, MetricsPoint, ServerMessage } from '../messages.js';
import { LiveChart, type Sample } from './chart.js';
import { ChatPanel } from './chat.js';
import { byId } from './dom.js';
import { LinkPanel } from './link.js';

type Choice = 'auto' | TransportName;
const choices: readonly Choice[] = ['auto', 'websocket', 'sse', 'poll'];

const params = new URLSearchParams(location.search);
const settings = {
  transport: (choices.find((c) => c === params.get('transport')) ?? 'auto') as Choice,
  block: params.get('block') === 'websocket',
  name: params.get('name') ?? localStorage.getItem('demo-name') ?? randomName(),
  room: params.get('room') ?? 'lobby',
};

let conn: Connection | undefined;
const link = new LinkPanel();
const chat = new ChatPanel((message) => conn?.send(JSON.stringify(message)), settings.name, settings.room);
const colors = { websocket: '#a78bfa', sse: '#2dd4bf', poll: '#fbbf24', http: '#94a3b8', out: '#60a5fa', in: '#f472b6' };
const openChart = new LiveChart(byId<SVGSVGElement>('chart-open'), byId('legend-open'), {
  stacked: true,
  series: (['websocket', 'sse', 'poll', 'http'] as const).map((key) => ({ key, label: key, color: colors[key] })),
});
const rateChart = new LiveChart(byId<SVGSVGElement>('chart-rate'), byId('legend-rate'), {
  series: [
    { key: 'out', label: 'out', color: colors.out },
    { key: 'in', label: 'in', color: colors.in },
  ],
});

function start(): void {
  conn?.close();
  const url = new URL('/live', location.href);
  if (settings.block) url.searchParams.set('block', 'websocket');
  const options: ConnectOptions = { reconnect: { minDelay: 200, maxDelay: 4000 }, openTimeout: 4000 };
  if (settings.transport !== 'auto') options.transports = [settings.transport];
  const current = connect(url, options);
  conn = current;
  const order = settings.transport === 'auto' ? 'auto: websocket → sse → poll' : `${settings.transport} only`;
  link.watch(current, settings.block ? `${order}, WebSocket blocked` : order);
  current.addEventListener('message', (event) => {
    if (typeof event.data === 'string') onMessage(JSON.parse(event.data) as ServerMessage);
  });
  current.addEventListener('close', (event) => {
    // The server forgot the session (it restarted, or we were away too long): start afresh.
    if (conn !== current || event.wasClean) return;
    link.log(event.sessionGone ? 'The server no longer knows this session (did it restart?): starting a new one' : 'Starting a new session', 'warn');
    setTimeout(() => conn === current && start(), 1000);
  });
  chat.join(); // queued until the session opens
  history.replaceState(null, '', `?${new URLSearchParams({ transport: settings.transport, room: settings.room, ...(settings.block ? { block: 'websocket' } : {}) })}`);
}

function onMessage(message: ServerMessage): void {
  switch (message.type) {
    case 'welcome':
      chat.me = message.key;
      chat.staleAfter = 3 * message.interval + 1000;
      if (message.resumed === true) {
        // Another process took the session over and ran its route again: it has the session,
        // not what the old process remembered of this tab. Tell it, after every message of
        // the old process (this welcome comes after them), so the numbering goes on from here.
        link.takenOver(message.process);
        conn?.send(JSON.stringify({ type: 'restore', ...chat.whereabouts, last: link.lastTick } satisfies ClientMessage));
      } else link.servedBy(message.process);
      chat.rooms(message.rooms);
      openChart.step = rateChart.step = message.interval / 1000;
      byId('metrics-every').textContent = message.interval === 1000 ? 'every second' : `every ${message.interval} ms`;
      openChart.reset(message.metrics.map(openSample));
      rateChart.reset(message.metrics.map(rateSample));
      if (message.metrics.length > 0) showKpis(message.metrics.at(-1)!);
      break;
    case 'metrics':
      openChart.push(openSample(message.point));
      rateChart.push(rateSample(message.point));
      showKpis(message.point);
      if (message.point.cluster !== undefined) showCluster(message.point.cluster);
      break;
    case 'here':
      link.servingProcess(message.process);
      break;
    case 'rooms':
      chat.rooms(message.rooms);
      break;
    case 'joined':
      settings.room = message.room;
      chat.joined(message.room, message.history);
      break;
    case 'presence':
      chat.presence(message.room, message.members, message.process);
      break;
    case 'chat':
      chat.chat(message.line);
      break;
    case 'tick':
      link.tick(message.n);
      break;
    case 'problem':
      link.log(message.message, 'warn');
      break;
  }
}

function openSample(p: MetricsPoint): Sample {
  return { ...p.open };
}

function rateSample(p: MetricsPoint): Sample {
  return { out: p.sentPerSecond, in: p.receivedPerSecond };
}

function showKpis(p: MetricsPoint): void {
  byId('kpi-open').textContent = String(p.open.websocket + p.open.sse + p.open.poll + p.open.http);
  byId('kpi-out').textContent = p.sentPerSecond.toFixed(0);
  byId('kpi-in').textContent = p.receivedPerSecond.toFixed(0);
  byId('kpi-queued').textContent = String(p.queued);
}

/** The cluster demo's figures: counted on every process, through Redis. */
function showCluster(c: ClusterPoint): void {
  byId('cluster').hidden = false;
  byId('cluster-process').textContent = c.process;
  byId('kpi-tabs').textContent = String(c.tabs);
  byId('kpi-here').textContent = String(c.here);
  byId('kpi-published').textContent = String(c.adapter?.published ?? '–');
  byId('kpi-received').textContent = String(c.adapter?.received ?? '–');
  byId('kpi-missed').textContent = String(c.adapter?.missed ?? '–');
  byId('cluster-redis').textContent = c.adapter?.connected === false ? 'disconnected (reconnecting)' : 'connected';
}

function randomName(): string {
  const first = ['Ada', 'Alan', 'Grace', 'Linus', 'Edsger', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Radia'];
  return `${first[Math.floor(Math.random() * first.length)]}-${Math.floor(Math.random() * 90 + 10)}`;
}

for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="transport"]')) {
  radio.checked = radio.value === settings.transport;
  radio.addEventListener('change', () => {
    settings.transport = radio.value as Choice;
    start();
  });
}
const block = byId<HTMLInputElement>('block-ws');
block.checked = settings.block;
block.addEventListener('change', () => {
  settings.block = block.checked;
  start();
});

// Leaving the page ends the session at once (a close frame or a DELETE), so the others do
// not see this tab in the room until its session times out.
addEventListener('pagehide', () => conn?.close());

start();
