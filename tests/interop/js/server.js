// interop js server: the scripted echo service of tests/support/echo.proto,
// served by grpc-js, so strait's tests can put a backend of another gRPC
// stack behind it. It answers exactly as tests/support/echo_service.cc does;
// that file is the reference, and a difference is a bug here.
//
//   node server.js --name NAME
//
// Listens on 127.0.0.1 (port chosen by the system), prints one line
// "listening on PORT" on stdout, and serves until SIGTERM or end of stdin
// (a test keeps our stdin open; its closing means "stop"). On the way out
// it prints "served calls=N cancelled=M": RPCs started, and RPCs that ended
// because they observed their cancellation (the client's cancel or
// deadline, as strait forwards them), so a test can check that no backend
// call outlived its client. Everything runs on node's one event loop.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

// As the C++ backend: tests send messages of several MiB.
const kMaxMessageBytes = 64 << 20;
// wait_for_cancel gives up after this.
const kMaxCancelWaitMs = 30000;
// How long a stop waits for handlers still running before it cuts their
// connections.
const kStopGraceMs = 5000;

// Field names as in the .proto (keepCase); bytes as Buffer (the default);
// absent fields as their zero values, maps as {}.
function loadEcho() {
  const definition = protoLoader.loadSync(path.join(__dirname, 'echo.proto'), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(definition).strait.test.v1.Echo;
}

function parseArgs(argv) {
  const args = {name: 'js'};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--name' && i + 1 < argv.length) {
      args.name = argv[++i];
    } else {
      process.stderr.write(`interop js server: unknown argument ${argv[i]}\n` +
                           'usage: node server.js --name NAME\n');
      process.exit(2);
    }
  }
  return args;
}

// A map<string, bytes> of the request as grpc-js Metadata: "-bin" values
// stay Buffers, the others (printable ASCII) become strings.
function toMetadata(map, md = new grpc.Metadata()) {
  for (const [key, value] of Object.entries(map)) {
    md.add(key, key.endsWith('-bin') ? value : value.toString('latin1'));
  }
  return md;
}

// The C++ backend's peer string: "ipv4:ADDR:PORT" or "ipv6:[ADDR]:PORT"
// (grpc-js says "ADDR:PORT", unbracketed).
function peerName(call) {
  const peer = call.getPeer();
  const colon = peer.lastIndexOf(':');
  if (colon < 0) return peer;
  const address = peer.slice(0, colon);
  if (address.includes(':')) return `ipv6:[${address}]${peer.slice(colon)}`;
  return `ipv4:${peer}`;
}

// The payload of a Unary/ServerStream response: `response_size` bytes of
// `fill`, or the request's own payload.
function responsePayload(request, fill) {
  if (request.response_size > 0) return Buffer.alloc(request.response_size, fill);
  return request.payload;
}

// One RPC's handler state: the headers it owes (sent with its first message
// or its status, as the C++ sync server does) and whether it is over.
class EchoCall {
  constructor(service, call) {
    this.service = service;
    this.call = call;
    this.headers = null;
    // The handler has answered or counted the call cancelled: a later
    // 'cancelled' event (grpc-js emits one after every status) is not one.
    this.ended = false;
    service.calls++;
  }

  // Queues the scripted initial metadata and, with echo_metadata, every
  // request entry whose key starts with "x-".
  begin(request) {
    const md = toMetadata(request.initial_metadata);
    if (request.echo_metadata) {
      for (const [key, values] of Object.entries(this.call.metadata.toJSON())) {
        if (!key.startsWith('x-')) continue;
        for (const value of values) md.add(key, value);
      }
    }
    if (Object.keys(md.toJSON()).length > 0) this.headers = md;
  }

  flushHeaders() {
    if (this.headers === null) return;
    this.call.sendMetadata(this.headers);
    this.headers = null;
  }

  // What the backend saw of the call, in the C++ backend's terms: one value
  // per metadata key (the last), the :authority, the peer.
  describe(response) {
    response.backend_name = this.service.name;
    response.request_metadata = {};
    for (const [key, values] of Object.entries(this.call.metadata.toJSON())) {
      response.request_metadata[key] = Buffer.from(values[values.length - 1]);
    }
    response.authority = this.call.getHost();
    response.peer = peerName(this.call);
    return response;
  }

  // Resolves after `ms`: true, or false (early) once the call is cancelled.
  sleep(ms) {
    return new Promise((resolve) => {
      if (this.call.cancelled) return resolve(false);
      const onCancel = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.call.removeListener('cancelled', onCancel);
        resolve(!this.call.cancelled);
      }, ms);
      this.call.once('cancelled', onCancel);
    });
  }

  // Ends a call that observed its cancellation, counting it once. grpc-js
  // has already ended the stream (RST_STREAM, or its own DEADLINE_EXCEEDED):
  // there is no status left to send.
  endCancelled() {
    if (this.ended) return;
    this.ended = true;
    this.service.cancelled++;
  }

  // wait_for_cancel: true once the call is cancelled (counted), false after
  // kMaxCancelWaitMs without one.
  async awaitCancel() {
    if (!(await this.sleep(kMaxCancelWaitMs))) {
      this.endCancelled();
      return true;
    }
    return false;
  }

  // The scripted status as a grpc-js error object (code 0 included: the
  // streaming calls send it, message and trailers as they are).
  static status(request, code = request.status_code, details = request.status_message) {
    return {code, details, metadata: toMetadata(request.trailing_metadata)};
  }
}

const kNoCancel = {code: grpc.status.FAILED_PRECONDITION,
                   details: 'wait_for_cancel: no cancel within 30 s'};

// The Echo service: handlers for grpc-js, and the counters printed at exit.
class EchoService {
  constructor(name) {
    this.name = name;
    this.calls = 0;
    this.cancelled = 0;
  }

  handlers() {
    return {
      Unary: (call, callback) => this.unary(call, callback),
      ServerStream: (call) => this.serverStream(call),
      ClientStream: (call, callback) => this.clientStream(call, callback),
      Bidi: (call) => this.bidi(call),
    };
  }

  async unary(call, callback) {
    const c = new EchoCall(this, call);
    const request = call.request;
    c.begin(request);
    if (request.wait_for_cancel) {
      if (await c.awaitCancel()) return;
      c.ended = true;
      c.flushHeaders();
      return callback({...kNoCancel, metadata: new grpc.Metadata()});
    }
    if (request.sleep_ms > 0 && !(await c.sleep(request.sleep_ms))) return c.endCancelled();
    const response = c.describe({payload: responsePayload(request, 'u')});
    const status = EchoCall.status(request);
    c.ended = true;
    c.flushHeaders();
    if (status.code !== grpc.status.OK) return callback(status);
    callback(null, response, status.metadata);
  }

  async serverStream(call) {
    const c = new EchoCall(this, call);
    const request = call.request;
    c.begin(request);
    for (let i = 0; i < request.response_count; i++) {
      if (request.sleep_ms > 0 && !(await c.sleep(request.sleep_ms))) return c.endCancelled();
      if (call.cancelled) return c.endCancelled();
      c.flushHeaders();
      const response = c.describe({index: i, payload: responsePayload(request, 's')});
      if (!call.write(response)) await waitForDrain(call);
    }
    if (call.cancelled) return c.endCancelled();
    if (request.wait_for_cancel) {
      if (await c.awaitCancel()) return;
      return end(c, {...kNoCancel, metadata: new grpc.Metadata()});
    }
    end(c, EchoCall.status(request));
  }

  async clientStream(call, callback) {
    const c = new EchoCall(this, call);
    let first = null;
    let messages = 0;
    let bytes = 0;
    for (;;) {
      const request = await nextMessage(call);
      if (request === null) break;
      if (first === null) {
        first = request;
        c.begin(first);
        if (first.wait_for_cancel) {
          if (await c.awaitCancel()) return;
          c.ended = true;
          c.flushHeaders();
          return callback({...kNoCancel, metadata: new grpc.Metadata()});
        }
      }
      messages++;
      bytes += request.payload.length;
      if (request.sleep_ms > 0 && !(await c.sleep(request.sleep_ms))) return c.endCancelled();
    }
    // The reads also end when the call breaks: only a half-close is a request.
    if (call.cancelled) return c.endCancelled();
    first = first || {status_code: 0, status_message: '', trailing_metadata: {}};
    const response = c.describe({messages_received: messages, bytes_received: bytes});
    const status = EchoCall.status(first);
    c.ended = true;
    c.flushHeaders();
    if (status.code !== grpc.status.OK) return callback(status);
    callback(null, response, status.metadata);
  }

  async bidi(call) {
    const c = new EchoCall(this, call);
    let first = null;
    let index = 0;
    for (;;) {
      const request = await nextMessage(call);
      if (request === null) break;
      if (first === null) {
        first = request;
        c.begin(first);
        if (first.wait_for_cancel) {
          if (await c.awaitCancel()) return;
          return end(c, {...kNoCancel, metadata: new grpc.Metadata()});
        }
      }
      if (request.sleep_ms > 0 && !(await c.sleep(request.sleep_ms))) return c.endCancelled();
      if (call.cancelled) return c.endCancelled();
      c.flushHeaders();
      // Kept small (no metadata copy): a stream may echo thousands of these.
      const response = {backend_name: this.name, peer: peerName(call), index: index++,
                        payload: request.payload};
      if (!call.write(response)) await waitForDrain(call);
    }
    if (call.cancelled) return c.endCancelled();
    first = first || {status_code: 0, status_message: '', trailing_metadata: {}};
    end(c, EchoCall.status(first));
  }
}

// Finishes a ServerStream or Bidi call with `status`: grpc-js's streams take
// a non-OK status (and an OK one with its own message) as an 'error' event.
function end(c, status) {
  c.ended = true;
  c.flushHeaders();
  c.call.emit('error', status);
}

// The next message of a client-streaming call, or null at its end (the
// half-close, or the call's cancellation: call.cancelled says which).
function nextMessage(call) {
  return new Promise((resolve) => {
    const finish = (value) => {
      call.removeListener('readable', onReadable);
      call.removeListener('end', onEnd);
      call.removeListener('close', onEnd);
      call.removeListener('cancelled', onEnd);
      resolve(value);
    };
    const onReadable = () => {
      const message = call.read();
      if (message !== null) finish(message);
    };
    const onEnd = () => finish(null);
    if (call.cancelled || call.readableEnded || call.destroyed) return resolve(null);
    const message = call.read();
    if (message !== null) return resolve(message);
    call.on('readable', onReadable);
    call.once('end', onEnd);
    call.once('close', onEnd);
    call.once('cancelled', onEnd);
  });
}

// Resolves when `call` can take more writes (or has ended).
function waitForDrain(call) {
  return new Promise((resolve) => {
    const done = () => {
      call.removeListener('drain', done);
      call.removeListener('close', done);
      resolve();
    };
    call.once('drain', done);
    call.once('close', done);
  });
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const service = new EchoService(args.name);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': kMaxMessageBytes,
    'grpc.max_send_message_length': kMaxMessageBytes,
  });
  server.addService(loadEcho().service, service.handlers());
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) {
      process.stderr.write(`interop js server: bind: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening on ${port}\n`);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const cut = setTimeout(() => server.forceShutdown(), kStopGraceMs);
    server.tryShutdown(() => {
      clearTimeout(cut);
      // The last line; exit once it is written (stdout may be a pipe).
      process.stdout.write(`served calls=${service.calls} cancelled=${service.cancelled}\n`,
                           () => process.exit(0));
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

main();
