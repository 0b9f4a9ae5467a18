// interop js client: a grpc-js client of tests/support/echo.proto that runs
// one scenario against a target (strait, or an echo backend directly) and
// judges it, so strait's tests can check what a real grpc-js peer sees.
//
//   node client.js --target HOST:PORT --scenario NAME [--count N]
//                  [--ca FILE [--server-name NAME]]
//
// All RPCs share one channel: h2c, or TLS with --ca (a PEM file of the only
// root CAs trusted; the name verified is --server-name, by default the host
// of --target, and is then also the :authority). The TCP connections it
// opens are counted (dials), so are the TLS handshakes that completed and
// verified the server (tls), and on each HTTP/2 session the PINGs sent and
// received and any GOAWAY are tallied. The last line on stdout is the
// verdict, and the exit code says it too:
//
//   PASS dials=D tls=T <details> ready=R conn[<tally>]...          (exit 0)
//   FAIL <scenario>: <reason> dials=D tls=T ready=R conn[...]...   (exit 1)
//
// dials=1 means the connection was never cut; tls=0 means h2c; ready=R is
// how many times the channel became READY. Everything runs on node's one
// event loop.
'use strict';

const fs = require('fs');
const net = require('net');
const http2 = require('http2');
const path = require('path');
const tls = require('tls');

// What the connections saw. grpc-js opens each connection with net.connect,
// runs TLS over it (with credentials.createSsl) with tls.connect, and opens
// each HTTP/2 session with http2.connect, all called through the module
// objects, so wrapping the three here sees every one, with no relay in
// between.
const wire = {dials: 0, tls: 0, ready: 0, sessions: []};

const realNetConnect = net.connect;
net.connect = function countedConnect(...args) {
  wire.dials++;
  return realNetConnect.apply(this, args);
};

const realTlsConnect = tls.connect;
tls.connect = function countedTlsConnect(...args) {
  const socket = realTlsConnect.apply(this, args);
  // Emitted once the handshake is done; `authorized`: the server's chain
  // and name checked out.
  socket.once('secureConnect', () => {
    if (socket.authorized) wire.tls++;
  });
  return socket;
};

const realHttp2Connect = http2.connect;
http2.connect = function tallied(...args) {
  const session = realHttp2Connect.apply(this, args);
  const tally = {pingsSent: 0, pingsReceived: 0, goaways: []};
  wire.sessions.push(tally);
  // grpc-js's keepalive is session.ping().
  const realPing = session.ping;
  session.ping = function countedPing(...pingArgs) {
    tally.pingsSent++;
    return realPing.apply(this, pingArgs);
  };
  const listen = () => {
    session.on('ping', () => tally.pingsReceived++);
    session.on('goaway', (code, lastStreamId, debug) => {
      tally.goaways.push(`${code}:${debug && debug.length ? debug.toString('latin1') : ''}`);
    });
  };
  listen();
  // grpc-js drops every listener of the session once the peer's SETTINGS
  // arrive (in its own 'remoteSettings' listener, which runs after this
  // one): listen again right after.
  session.once('remoteSettings', () => process.nextTick(listen));
  return session;
};

const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const kMiB = 1 << 20;
// Calls in flight at once in the load scenarios.
const kParallelCalls = 8;
// What one scenario may take before the client gives up on it and says
// FAIL (keepalive_idle's idle time comes on top).
const kScenarioTimeoutMs = 60000;

// Field names as in the .proto (keepCase); bytes as Buffer (the default);
// int64 as Number; absent fields as their zero values, maps as {}.
function loadEcho() {
  const definition = protoLoader.loadSync(path.join(__dirname, 'echo.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).strait.test.v1.Echo;
}

// Bytes 0..255, and the same reversed: binary metadata values that cover
// every octet.
function allBytes() {
  return Buffer.from(Array.from({length: 256}, (_, i) => i));
}

function reversedBytes() {
  return allBytes().reverse();
}

// proxyAdded says whether a request metadata key is one a proxy adds on the
// way (X-Forwarded-For and kin, as strait does). The backend's echo_metadata
// sends those back too, so echoed headers may carry them.
function proxyAdded(key) {
  return key.startsWith('x-forwarded-');
}

function show(value) {
  return Buffer.isBuffer(value) ? `0x${value.toString('hex')}` : JSON.stringify(value);
}

// Checks that the "x-" entries of `md` are exactly `want` (key: Buffer or
// string), but for the keys that `ignore` accepts; returns those, sorted.
function expectMD(what, md, want, ignore = () => false) {
  const got = md ? md.toJSON() : {};
  const ignored = [];
  for (const [key, values] of Object.entries(got)) {
    if (!key.startsWith('x-')) continue;
    if (!(key in want) && ignore(key)) {
      ignored.push(key);
      continue;
    }
    if (!(key in want)) throw new Error(`${what}: unexpected ${key}=${values.map(show)}`);
    if (values.length !== 1 || !Buffer.from(values[0]).equals(Buffer.from(want[key]))) {
      throw new Error(`${what}: ${key}=[${values.map(show)}], want [${show(want[key])}]`);
    }
  }
  for (const key of Object.keys(want)) {
    if (!(key in got)) throw new Error(`${what}: ${key} missing (got ${Object.keys(got)})`);
  }
  return ignored.sort();
}

function statusName(code) {
  return (grpc.status[code] || `code_${code}`).toLowerCase();
}

// One unary call. Resolves, never rejects, once both the callback and the
// 'status' event are in: {error, response, headers (null if no HEADERS
// came before the status: a Trailers-Only answer), status}.
function unary(client, request, {metadata = new grpc.Metadata(), deadline, cancelAfterMs} = {}) {
  return new Promise((resolve) => {
    const result = {error: null, response: null, headers: null, status: null};
    let pending = 2;
    const done = () => {
      if (--pending === 0) resolve(result);
    };
    const options = deadline === undefined ? {} : {deadline};
    const call = client.Unary(request, metadata, options, (error, response) => {
      result.error = error;
      result.response = response;
      done();
    });
    call.on('metadata', (md) => {
      result.headers = md;
    });
    let timer = null;
    call.on('status', (status) => {
      result.status = status;
      if (timer !== null) clearTimeout(timer);
      done();
    });
    if (cancelAfterMs !== undefined) timer = setTimeout(() => call.cancel(), cancelAfterMs);
  });
}

function describeError(result) {
  const status = result.status || result.error || {};
  return `${statusName(status.code)} ${JSON.stringify(status.details)}`;
}

async function unaryMetadata(client, count) {
  const payload = Buffer.from('metadata round trip');
  const request = {
    payload,
    echo_metadata: true,
    initial_metadata: {'x-initial': Buffer.from('i')},
    trailing_metadata: {'x-trailer': Buffer.from('t'), 'x-trailer-bin': reversedBytes()},
  };
  let proxyKeys = [];
  let backend = '';
  // What the backend saw as x-forwarded-proto: a proxy's word on whether the
  // client's connection was TLS.
  let forwardedProto = 'none';
  for (let i = 0; i < count; i++) {
    const metadata = new grpc.Metadata();
    metadata.add('x-text', 'hello');
    metadata.add('x-bin-bin', allBytes());
    const result = await unary(client, request, {metadata});
    if (result.error) throw new Error(`call ${i}: ${describeError(result)}`);
    const response = result.response;
    backend = response.backend_name;
    if (!response.payload.equals(payload)) {
      throw new Error(`call ${i}: payload ${show(response.payload)}, want ${show(payload)}`);
    }
    const sawBin = response.request_metadata['x-bin-bin'];
    if (!sawBin || !sawBin.equals(allBytes())) {
      throw new Error(`call ${i}: backend saw x-bin-bin=${sawBin && show(sawBin)}`);
    }
    const sawText = response.request_metadata['x-text'];
    if (!sawText || sawText.toString() !== 'hello') {
      throw new Error(`call ${i}: backend saw x-text=${sawText && show(sawText)}`);
    }
    const sawProto = response.request_metadata['x-forwarded-proto'];
    if (sawProto) forwardedProto = sawProto.toString();
    try {
      proxyKeys = expectMD('headers', result.headers,
                           {'x-text': 'hello', 'x-bin-bin': allBytes(), 'x-initial': 'i'},
                           proxyAdded);
      expectMD('trailers', result.status.metadata,
               {'x-trailer': 't', 'x-trailer-bin': reversedBytes()});
    } catch (e) {
      throw new Error(`call ${i}: ${e.message}`);
    }
  }
  return `calls=${count} backend=${backend} proxy_added=${
    proxyKeys.length ? proxyKeys.join(',') : 'none'} forwarded_proto=${forwardedProto}`;
}

// Non-ASCII on purpose: gRPC percent-encodes grpc-message, and a proxy that
// rewrites trailers must keep the encoding intact.
const kNotFoundMessage = 'not found: ünïcode ✓';

async function trailersOnly(client, count) {
  const request = {
    status_code: grpc.status.NOT_FOUND,
    status_message: kNotFoundMessage,
    trailing_metadata: {'x-trailer': Buffer.from('t')},
  };
  let withoutHeaders = 0;
  for (let i = 0; i < count; i++) {
    const result = await unary(client, request);
    const status = result.status;
    if (status.code !== grpc.status.NOT_FOUND || status.details !== kNotFoundMessage) {
      throw new Error(`call ${i}: ${describeError(result)}, want not_found ${
        JSON.stringify(kNotFoundMessage)}`);
    }
    try {
      expectMD('trailers', status.metadata, {'x-trailer': 't'});
    } catch (e) {
      throw new Error(`call ${i}: ${e.message}`);
    }
    if (result.headers === null) withoutHeaders++;
  }
  // Trailers-Only: the status came in the only HEADERS frame.
  return `calls=${count} not_found=${count} trailers_only=${withoutHeaders}`;
}

// Message i's payload: 1 MiB that differs from its neighbours', so a
// dropped, repeated or reordered message shows (the grpc-go client's too).
function bidiPayload(i) {
  const b = Buffer.allocUnsafe(kMiB);
  for (let j = 0; j < kMiB; j++) b[j] = (i * 131 + j * 7) & 0xff;
  return b;
}

// A client-side Bidi stream read one message at a time: next() resolves to
// the next message, or null once the stream ended; `status` is then set.
class BidiReader {
  constructor(call) {
    this.messages = [];
    this.waiters = [];
    this.status = null;
    call.on('data', (message) => this.push(message));
    call.on('status', (status) => {
      this.status = status;
      this.push(null);
    });
    // A non-OK status also comes as an 'error'; 'status' says it all.
    call.on('error', () => {});
  }

  push(message) {
    if (this.waiters.length > 0) {
      this.waiters.shift()(message);
    } else {
      this.messages.push(message);
    }
  }

  next() {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift());
    if (this.status !== null) return Promise.resolve(null);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

async function bidi1MiB(client, count) {
  const call = client.Bidi();
  const reader = new BidiReader(call);
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const payload = bidiPayload(i);
    call.write({payload});
    const response = await reader.next();
    if (response === null) {
      throw new Error(`receive ${i}: stream ended: ${statusName(reader.status.code)} ${
        JSON.stringify(reader.status.details)}`);
    }
    if (response.index !== i || !response.payload.equals(payload)) {
      throw new Error(`receive ${i}: index ${response.index}, ${
        response.payload.length} payload bytes (equal: ${response.payload.equals(payload)})`);
    }
  }
  call.end();
  const extra = await reader.next();
  if (extra !== null) throw new Error(`after close: unexpected message ${extra.index}`);
  if (reader.status.code !== grpc.status.OK) {
    throw new Error(`after close: ${statusName(reader.status.code)} ${
      JSON.stringify(reader.status.details)}`);
  }
  return `messages=${count} bytes_each_way=${count * kMiB} elapsed_ms=${Date.now() - start}`;
}

// Runs call(i) for i in [0, count), `parallel` at a time.
async function concurrently(count, parallel, call) {
  let next = 0;
  const worker = async () => {
    while (next < count) await call(next++);
  };
  await Promise.all(Array.from({length: parallel}, worker));
}

// The plain call that must succeed once a batch of abandoned calls is over:
// the channel (and what is behind it) still works.
async function afterwards(client) {
  const payload = Buffer.from('still there');
  const result = await unary(client, {payload});
  if (result.error) throw new Error(`the call after: ${describeError(result)}`);
  if (!result.response.payload.equals(payload)) {
    throw new Error(`the call after: payload ${show(result.response.payload)}`);
  }
}

// Runs `count` calls, kParallelCalls at a time, each of which the client
// abandons (call(i) resolves to unary()'s result), checks that each ended
// with a code in `expected`, then that a plain call still succeeds.
async function abandonBatch(client, count, expected, call) {
  const codes = new Map();
  let firstBad = null;
  await concurrently(count, kParallelCalls, async (i) => {
    const result = await call(i);
    const code = result.status.code;
    codes.set(code, (codes.get(code) || 0) + 1);
    if (!expected.includes(code) && firstBad === null) {
      firstBad = `call ${i}: ${result.error ? describeError(result) : 'succeeded'}`;
    }
  });
  const tally = [...codes].map(([code, n]) => `${statusName(code)}=${n}`).sort().join(' ');
  if (firstBad !== null) throw new Error(`${firstBad} (of ${count}: ${tally})`);
  await afterwards(client);
  return `calls=${count} ${tally} then_ok=1`;
}

function deadlineCancel(client, count) {
  return abandonBatch(client, count, [grpc.status.DEADLINE_EXCEEDED],
                      () => unary(client, {sleep_ms: 1000}, {deadline: Date.now() + 20}));
}

function cancelUnderLoad(client, count) {
  return abandonBatch(client, count, [grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED],
                      // The backend would answer after 1 s: every call it sees must
                      // end by the cancel (5 ms in) long before, however loaded.
                      () => unary(client, {sleep_ms: 1000}, {cancelAfterMs: 5}));
}

const kKeepaliveOptions = {
  'grpc.keepalive_time_ms': 1000,
  'grpc.keepalive_timeout_ms': 5000,
  'grpc.keepalive_permit_without_calls': 1,
};

function pingsSent() {
  return wire.sessions.reduce((n, tally) => n + tally.pingsSent, 0);
}

async function keepaliveIdle(client, idleSeconds) {
  const payload = Buffer.from('before idle');
  const result = await unary(client, {payload});
  if (result.error) throw new Error(`before idle: ${describeError(result)}`);
  const before = pingsSent();
  // The one wait on purpose: an idle connection, kept alive by PINGs only.
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const pings = pingsSent() - before;
  await afterwards(client);
  if (pings === 0) {
    throw new Error(`no keepalive PING in ${idleSeconds}s idle: the scenario tested nothing`);
  }
  return `keepalive_time_ms=${kKeepaliveOptions['grpc.keepalive_time_ms']} idle=${
    idleSeconds}s pings_while_idle=${pings}`;
}

// Each scenario: its default --count (keepalive_idle: the idle seconds),
// channel options beyond the common ones, and its body, which resolves to
// the details of a PASS or rejects with the reason of a FAIL.
const kScenarios = {
  unary_metadata: {count: 1, run: unaryMetadata},
  trailers_only: {count: 100, run: trailersOnly},
  bidi_1mib: {count: 200, run: bidi1MiB},
  deadline_cancel: {count: 1000, run: deadlineCancel},
  cancel_under_load: {count: 2000, run: cancelUnderLoad},
  keepalive_idle: {count: 30, run: keepaliveIdle, options: kKeepaliveOptions},
};

// "dials=D tls=T": the verdict's first words.
function wireCounts() {
  return `dials=${wire.dials} tls=${wire.tls}`;
}

// "ready=R conn[...]...": what the channel and its sessions saw.
function wireTallies() {
  const conns = wire.sessions.map((t) => `conn[pings_sent=${t.pingsSent} pings_received=${
    t.pingsReceived}${t.goaways.length ? ` goaway=${t.goaways.join(',')}` : ''}]`);
  return [`ready=${wire.ready}`, ...conns].join(' ');
}

function wireSummary() {
  return `${wireCounts()} ${wireTallies()}`;
}

// Prints the verdict, the last line, and exits once it is written.
function verdict(line, code) {
  process.stdout.write(`${line}\n`, () => process.exit(code));
}

function parseArgs(argv) {
  const args = {target: '', scenario: '', count: 0, ca: '', serverName: ''};
  for (let i = 0; i + 1 < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--target') args.target = value;
    else if (flag === '--scenario') args.scenario = value;
    else if (flag === '--count') args.count = Number(value);
    else if (flag === '--ca') args.ca = value;
    else if (flag === '--server-name') args.serverName = value;
    else return null;
  }
  if (argv.length % 2 !== 0 || !args.target || !(args.scenario in kScenarios) ||
      !Number.isInteger(args.count) || args.count < 0 || (args.serverName && !args.ca)) {
    return null;
  }
  return args;
}

// Counts the channel's transitions into READY. grpc-js calls watchers
// synchronously on every change, so none is missed.
function watchReady(channel) {
  let last = channel.getConnectivityState(false);
  const watch = () => {
    channel.watchConnectivityState(last, Date.now() + 3600 * 1000, (error) => {
      if (error) return watch();
      const state = channel.getConnectivityState(false);
      if (state === grpc.connectivityState.READY && last !== grpc.connectivityState.READY) {
        wire.ready++;
      }
      last = state;
      if (state !== grpc.connectivityState.SHUTDOWN) watch();
    });
  };
  watch();
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args === null) {
    return verdict(`FAIL usage: --target HOST:PORT --scenario {${
      Object.keys(kScenarios).sort().join(',')}} [--count N] [--ca FILE [--server-name NAME]]`, 1);
  }
  const scenario = kScenarios[args.scenario];
  const count = args.count > 0 ? args.count : scenario.count;
  let credentials = grpc.credentials.createInsecure();
  const tlsOptions = {};
  if (args.ca) {
    let ca;
    try {
      ca = fs.readFileSync(args.ca);
    } catch (e) {
      return verdict(`FAIL --ca: ${e.message} ${wireSummary()}`, 1);
    }
    // Only `ca` is trusted, not node's built-in roots.
    credentials = grpc.credentials.createSsl(ca);
    if (args.serverName) {
      // The name verified and sent as SNI, and the :authority, as grpc-go's
      // tls.Config.ServerName does both.
      tlsOptions['grpc.ssl_target_name_override'] = args.serverName;
      tlsOptions['grpc.default_authority'] = args.serverName;
    }
  }
  const Echo = loadEcho();
  const client = new Echo(args.target, credentials, {
    'grpc.max_receive_message_length': 8 * kMiB,
    'grpc.max_send_message_length': 8 * kMiB,
    ...tlsOptions,
    ...scenario.options,
  });
  watchReady(client.getChannel());

  let timeoutMs = kScenarioTimeoutMs;
  if (args.scenario === 'keepalive_idle') timeoutMs += count * 1000;
  setTimeout(() => {
    verdict(`FAIL ${args.scenario}: no verdict within ${timeoutMs} ms ${wireSummary()}`, 1);
  }, timeoutMs);

  let details;
  try {
    details = await scenario.run(client, count);
  } catch (e) {
    return verdict(`FAIL ${args.scenario}: ${e.message} ${wireSummary()}`, 1);
  }
  const [counts, tallies] = [wireCounts(), wireTallies()];
  client.close();
  verdict(`PASS ${counts} ${details} ${tallies}`, 0);
}

process.on('unhandledRejection', (e) => verdict(`FAIL internal: ${e && e.stack} ${wireSummary()}`, 1));
main();
