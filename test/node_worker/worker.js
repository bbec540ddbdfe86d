#!/usr/bin/env node
// A bgsync service worker written in JavaScript with @grpc/grpc-js: a second, independent implementation of the
// worker protocol in public/README.md (the C++ one is renderer/bgsync_test_worker). The browser launches it;
// test/node_worker_e2e_test.cc drives it.
//
// Usage: node worker.js --log FILE [--reject]
//   --log FILE  appends "event <tag> last_chance=<0|1> timeout_ms=<n>" for each sync event and
//               "periodicsync <tag> timeout_ms=<n>" for each periodicsync event, when it arrives
//   --reject    answers every event (sync and periodicsync) REJECTED (default: COMPLETED)
// Exit status: 0 when the browser ends the stream normally; 1 on a bootstrap or stream error; 2 on a bad
// argument.
//
// The browser hands a process it launches a private channel (bootstrap `channel_fd=4`, a connected socket) and
// accepts its session on that connection only. grpc-js cannot open a channel on a descriptor, so this worker
// bridges: a unix socket in a private (0700) temporary directory whose first connection is spliced, byte for
// byte, onto the inherited descriptor; grpc-js dials that socket. The directory goes as soon as the connection
// is made, and no second connection is bridged (a grpc-js reconnect fails, as the channel itself cannot be
// re-dialled). A bootstrap with a `socket` line and no channel (a tool's session) is dialled directly.
'use strict';

const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const USAGE = 'usage: node worker.js --log FILE [--reject]\n';

function parseArgs(argv) {
  const flags = {log: '', reject: false};
  for (let i = 0; i < argv.length; ++i) {
    if (argv[i] === '--log' && i + 1 < argv.length && argv[i + 1] !== '') {
      flags.log = argv[++i];
    } else if (argv[i] === '--reject') {
      flags.reject = true;
    } else {
      return null;
    }
  }
  return flags.log ? flags : null;
}

// The session bootstrap: `key=value` lines read to end-of-file from the descriptor named by BGSYNC_BOOTSTRAP_FD,
// which is then closed.
function readBootstrap() {
  const fdText = process.env.BGSYNC_BOOTSTRAP_FD;
  if (!fdText || !/^[0-9]+$/.test(fdText)) throw new Error('BGSYNC_BOOTSTRAP_FD is not set');
  const fd = Number(fdText);
  const text = fs.readFileSync(fd, 'utf8');
  fs.closeSync(fd);
  const bootstrap = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) bootstrap[line.slice(0, eq)] = line.slice(eq + 1);
  }
  if (bootstrap.channel_fd !== undefined && !/^[0-9]+$/.test(bootstrap.channel_fd)) {
    throw new Error('the bootstrap\'s channel_fd is not a descriptor number');
  }
  if ((!bootstrap.channel_fd && !bootstrap.socket) || !/^[0-9a-f]{64}$/.test(bootstrap.token || '')) {
    throw new Error('the bootstrap lacks a channel (or socket) or a token');
  }
  return bootstrap;
}

// Calls `ready(target)` with the gRPC target to dial: the bridge to the inherited channel, or the socket.
// `failed(error)` if the bridge cannot be set up.
function browserTarget(bootstrap, ready, failed) {
  if (!bootstrap.channel_fd) {
    ready(`unix:${bootstrap.socket}`);
    return;
  }
  const channel = new net.Socket({fd: Number(bootstrap.channel_fd), readable: true, writable: true});
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'bgsync-node-worker-'));  // mode 0700
  const bridge = path.join(directory, 'channel.sock');
  const removeDirectory = () => fs.rmSync(directory, {recursive: true, force: true});
  process.on('exit', removeDirectory);
  const server = net.createServer((connection) => {
    server.close();  // one connection: the channel's
    removeDirectory();
    connection.pipe(channel);
    channel.pipe(connection);
    // Either side ending ends the other: the browser closing the channel is seen by grpc-js.
    channel.on('close', () => connection.destroy());
    connection.on('close', () => channel.destroy());
    channel.on('error', () => connection.destroy());
    connection.on('error', () => channel.destroy());
  });
  server.on('error', failed);
  server.listen(bridge, () => ready(`unix:${bridge}`));
}

function loadMojom() {
  const root = path.resolve(__dirname, '..', '..');
  const definition = protoLoader.loadSync('public/mojom/background_sync.proto', {
    includeDirs: [root],  // so that `import "public/mojom/background_sync_error.proto"` resolves
    keepCase: true,       // field names as in the .proto (event_id, last_chance, ...)
    longs: String,        // uint64 event_id round-trips exactly
    enums: String,
    defaults: true,
    oneofs: true,  // the oneof's name (`message`) says which field is set
  });
  return grpc.loadPackageDefinition(definition).bgsync.mojom;
}

function main() {
  const flags = parseArgs(process.argv.slice(2));
  if (!flags) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  let bootstrap;
  try {
    bootstrap = readBootstrap();
  } catch (error) {
    process.stderr.write(`node worker: ${error.message}\n`);
    process.exit(1);
  }
  const mojom = loadMojom();
  browserTarget(bootstrap, (target) => run(flags, bootstrap, mojom, target), (error) => {
    process.stderr.write(`node worker: bridging the channel: ${error.message}\n`);
    process.exit(1);
  });
}

function run(flags, bootstrap, mojom, target) {
  const host = new mojom.ServiceWorkerHost(target, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('bgsync-session', bootstrap.token);
  const call = host.Connect(metadata);

  call.on('data', (message) => {
    let event;
    let line;
    if (message.message === 'sync_event') {
      event = message.sync_event;
      const tag = Buffer.from(event.tag).toString('utf8');
      const lastChance = event.last_chance ? 1 : 0;
      line = `event ${tag} last_chance=${lastChance} timeout_ms=${event.timeout_ms}\n`;
    } else if (message.message === 'periodic_sync_event') {
      event = message.periodic_sync_event;
      const tag = Buffer.from(event.tag).toString('utf8');
      line = `periodicsync ${tag} timeout_ms=${event.timeout_ms}\n`;
    } else {
      return;  // from a newer browser: left unanswered, it times out
    }
    // Synchronous, so that the line is on disk before the browser sees the result.
    fs.appendFileSync(flags.log, line);
    call.write({
      sync_event_result: {
        event_id: event.event_id,
        status: flags.reject ? 'SYNC_EVENT_STATUS_REJECTED' : 'SYNC_EVENT_STATUS_COMPLETED',
      },
    });
  });
  // The browser ended the stream: 'status' follows 'end' with how it ended.
  call.on('status', (status) => {
    if (status.code === grpc.status.OK) process.exit(0);
    process.stderr.write(`node worker: stream ended: ${status.code} ${status.details}\n`);
    process.exit(1);
  });
  call.on('error', () => {});  // reported through 'status'
  call.write({ready: {}});
}

main();
