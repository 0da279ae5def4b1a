// The structure of lib/, checked by `npm run check:layers` (dependency-cruiser).
// Two kinds of rule: no import cycles, and imports only go down the layers listed in
// the DESIGN's "Layout". Each rule names what a file of that layer MAY import; any other
// file of lib/ is a violation, and its `comment` is what the report prints.
// A new folder or root file in lib/ is forbidden to everyone until it is given its place
// below: that is deliberate, the layering is decided here, not by the first import.

/** Bottom to top: what a file of each layer may import from lib/. */
const errors = '^lib/errors\\.ts$';
// The server's debug log (util.debuglog): a leaf like errors.ts, but a Node one, so never
// for protocol/ or the client.
const debugLog = '^lib/debug\\.ts$';
const protocol = '^lib/protocol/';
const transports = '^lib/transports/';
const sessions = '^lib/sessions/';
const channel = '^lib/channel/';
const groups = '^lib/groups/';
const http = '^lib/http/';
const hubAndOptions = '^lib/(hub|hub-types|options|drain)\\.ts$';
const channelsFile = '^lib/channels\\.ts$';
const client = '^lib/client/';
const indexFile = '^lib/index\\.ts$';
const metrics = '^lib/metrics/';
const testing = '^lib/testing/';
const serverFiles = [channelsFile, hubAndOptions, http, groups, channel, sessions, transports, protocol, errors];

/** A forbidden edge: a file matching `from` imports a file of lib/ outside `mayImport`. */
function layer(name, from, mayImport, comment) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: from },
    to: { path: '^lib/', pathNot: mayImport },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle in lib/ (type-only imports count): the modules in it cannot be understood, ' +
        'tested or loaded one without the other. Move what both sides need into the lower one, ' +
        'or into a layer below both.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'An import in lib/ that does not resolve to a file. Fix the path: an edge that cannot be ' +
        'resolved is an edge no other rule here can check.',
      from: { path: '^lib/' },
      to: { couldNotResolve: true },
    },

    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      comment: 'lib/errors.ts is the leaf every layer may import, so it imports nothing of lib/ itself.',
      from: { path: errors },
      to: { path: '^lib/' },
    },

    {
      name: 'debug-is-a-leaf',
      severity: 'error',
      comment: 'lib/debug.ts is the debug log every server layer may import, so it imports nothing of lib/ itself.',
      from: { path: debugLog },
      to: { path: '^lib/' },
    },

    layer('protocol-layer', protocol, [protocol, errors],
      'lib/protocol/ is the wire format, shared with the browser client: it imports only ' +
      'lib/protocol/ and lib/errors.ts, never server code.'),
    {
      name: 'protocol-no-node-builtins',
      severity: 'error',
      comment:
        'lib/protocol/ ships in the browser client bundle, so it uses no Node built-in ' +
        '(node:http, node:crypto, ..., type-only imports too: declare the shape it needs ' +
        'in protocol/ instead). The Buffer global cannot be checked here: do not use it either.',
      from: { path: protocol },
      to: { dependencyTypes: ['core'] },
    },

    layer('transports-layer', transports, [transports, protocol, errors, debugLog],
      'lib/transports/ (one file a transport) builds on lib/protocol/ only: it must not know ' +
      'sessions, channels, groups or HTTP routing, which sit above it.'),

    layer('sessions-layer', sessions, [sessions, transports, protocol, errors, debugLog],
      'lib/sessions/ may import only lib/transports/, lib/protocol/ and lib/errors.ts: ' +
      'channels, groups and HTTP routing sit above it.'),

    layer('channel-layer', channel, [channel, sessions, transports, protocol, errors, debugLog],
      'lib/channel/ (the contract) may import sessions, transports, protocol and errors.ts, ' +
      'not groups, HTTP routing or the root files above it.'),

    layer('groups-layer', groups, [groups, channel, sessions, transports, protocol, errors, debugLog],
      'lib/groups/ may import channel/ and what is below it, not HTTP routing or the root files.'),

    layer('http-layer', http, [http, groups, channel, sessions, transports, protocol, errors, debugLog],
      'lib/http/ (upgrade routing, negotiation, claiming a request) may import every server ' +
      'folder below it, not the root files (hub.ts, options.ts, channels.ts, index.ts).'),

    layer('hub-and-options', hubAndOptions,
      [hubAndOptions, http, groups, channel, sessions, transports, protocol, errors, debugLog],
      'lib/hub.ts, lib/drain.ts and lib/options.ts may import each other and the server folders, ' +
      'not channels.ts or index.ts above them, nor the client.'),

    layer('channels-factory', channelsFile,
      [channelsFile, hubAndOptions, http, groups, channel, sessions, transports, protocol, errors, debugLog],
      'lib/channels.ts (the middleware factory) may import any server file but index.ts, ' +
      'which re-exports it, and not the client.'),

    layer('index-entry', indexFile, [indexFile, ...serverFiles],
      'lib/index.ts is the main entry: it re-exports the server files. express-channel/metrics ' +
      'and express-channel/testing are entries of their own above it, which the main entry ' +
      'never loads (so prom-client and the test helpers stay out of an app that does not ask).'),

    layer('metrics-layer', metrics, [metrics, ...serverFiles],
      'lib/metrics/ (express-channel/metrics) reads the server\'s counters: it may import the ' +
      'server files, not the client, the test helpers or lib/index.ts.'),
    {
      name: 'prom-client-only-in-metrics',
      severity: 'error',
      comment:
        'prom-client is an optional peer dependency: only lib/metrics/ (the entry a user imports ' +
        'to get metrics) may load it. The core must work without it installed.',
      from: { path: '^lib/', pathNot: metrics },
      to: { path: '^node_modules/prom-client/' },
    },

    layer('testing-layer', testing, [testing, indexFile, ...serverFiles, client],
      'lib/testing/ (express-channel/testing) drives servers and clients: it may import the ' +
      'server files and the client, not lib/metrics/.'),

    layer('client-layer', client, [client, protocol],
      'lib/client/ is a separate (browser) bundle: it may import only lib/client/ and ' +
      'lib/protocol/, never server code.'),
    {
      name: 'client-no-node-builtins',
      severity: 'error',
      comment:
        'lib/client/ runs in browsers: no Node built-ins (type-only imports too). ' +
        'Not even lib/client/node.ts needs one today; its Node-ness is the ws package.',
      from: { path: client },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'client-browser-packages',
      severity: 'error',
      comment:
        'The browser client bundles its npm packages: only eventsource-parser, which runs in ' +
        'browsers. ws (Node only) belongs in lib/client/node.ts, the Node entry.',
      from: { path: client, pathNot: '^lib/client/node\\.ts$' },
      to: { path: '^node_modules/', pathNot: '^node_modules/eventsource-parser/' },
    },
    {
      name: 'client-node-entry-packages',
      severity: 'error',
      comment:
        'lib/client/node.ts, the Node entry, adds the ws package as its WebSocket (Node 20 has ' +
        'no global one) and nothing else: another package is a new dependency of every Node client.',
      from: { path: '^lib/client/node\\.ts$' },
      to: { path: '^node_modules/', pathNot: '^node_modules/(ws|@types/ws)/' },
    },

    // lib/redis/ (express-channel/redis) plugs into the adapter seam of groups/ (and later the
    // session store of sessions/). No server file imports it: the core never loads Redis.
    layer('redis-layer', '^lib/redis/',
      ['^lib/redis/', groups, sessions, transports, protocol, errors],
      'lib/redis/ implements the seams (groups/adapter.ts, sessions/directory.ts): it may import ' +
      'their types and what is below them, not the hub, the HTTP routing or the entry points.'),
    {
      name: 'core-never-loads-redis',
      severity: 'error',
      comment: 'The core package must not import lib/redis/ (or the redis package): an app without Redis is exactly as before.',
      from: { path: '^lib/', pathNot: '^lib/redis/' },
      to: { path: ['^lib/redis/', '^node_modules/(redis|@redis)/'] },
    },
  ],
  options: {
    // Type-only imports count: the goal is a structure without cycles, not just a runtime.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Packages are leaves here: their own imports are not lib's structure.
    doNotFollow: { path: 'node_modules' },
  },
};
