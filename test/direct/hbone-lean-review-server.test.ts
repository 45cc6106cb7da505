// Direct tier: a whole HBONE hop on the lean HTTP/2 engine, client pool to HboneServer, with a
// proxied TCP connection on the client side (tunnelToHbone or relay()) and a scripted backend:
// FIN and reset in every order, a reset while the relay is paused, the pool closed or the client
// vanishing under open tunnels, and 2,000 tunnels leaving no stream, slot or listener behind.
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { H2Session } from '../../shared/h2/h2-session.js';
import type { H2Stream } from '../../shared/h2/h2-stream.js';
import { HbonePool, type HboneTarget } from '../../shared/hbone/pool.js';
import type { HboneConnectHandler } from '../../shared/hbone/server.js';
import { tunnelToHbone } from '../../shared/hbone/tunnel.js';
import { silentLogger } from '../../shared/log.js';
import { relay, type RelayResult } from '../../shared/net/relay.js';
import { H2Error } from '../support/h2-frames.js';
import { appOutcome, downstreamPair } from '../support/downstream-pair.js';
import { connectToAuthority, createTestMesh, eventually, startHboneServer, type TestMesh } from '../support/mesh.js';
import { within } from '../support/within.js';

interface Backend {
  readonly port: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A TCP backend that runs `serve` on each connection (allowHalfOpen, errors ignored). */
async function startBackend(serve: (s: Socket) => void): Promise<Backend> {
  const sockets = new Set<Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    serve(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** What the backend socket saw: its bytes, and whether it ended with a FIN or a reset. */
function backendOutcome(s: Socket): Promise<{ data: string; reset: boolean }> {
  const chunks: Buffer[] = [];
  s.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => {
    s.once('error', (err: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks).toString(), reset: err.code === 'ECONNRESET' }));
    s.once('end', () => resolve({ data: Buffer.concat(chunks).toString(), reset: false }));
  });
}

let mesh: TestMesh;
let hbone: Awaited<ReturnType<typeof startHboneServer>>;
let pool: HbonePool;
let target: HboneTarget;
let backend: Backend | undefined;
/** The server relay's results (its onDone), in order. */
const serverRelays: RelayResult[] = [];
/** What the server handler was asked: the authority and the plain headers. */
const requests: { authority: string; headers: Record<string, unknown> }[] = [];
/** The server's socket to the backend of the latest tunnel. */
let lastUpstream: Socket | undefined;
const onConnect: HboneConnectHandler = async (req) => {
  requests.push({ authority: `${req.authority.ip}:${req.authority.port}`, headers: { ...req.headers } });
  const d = await connectToAuthority(req);
  if ('upstream' in d) lastUpstream = d.upstream;
  return d.status === 200 && 'upstream' in d ? { status: 200, upstream: d.upstream, onDone: (r) => void serverRelays.push(r) } : d;
};

before(async () => {
  mesh = await createTestMesh();
  hbone = await startHboneServer(mesh.serverCert, { engine: 'lean', onConnect });
});
after(async () => {
  await hbone.close();
});
beforeEach(() => {
  serverRelays.length = 0;
  requests.length = 0;
  pool = new HbonePool({ logger: silentLogger(), engine: 'lean' });
  target = { source: mesh.clientCert, expectedIdentities: [mesh.serverId], nextHop: { host: '127.0.0.1', port: hbone.port } };
});
afterEach(async () => {
  await pool.close();
  assert.ok(await eventually(() => hbone.hbone.connectionCount() === 0), 'the server holds no connection');
  assert.equal(hbone.hbone.stats.sessionsOpen, 0, 'sessionsOpen back to 0');
  assert.equal(hbone.hbone.stats.streamsOpen, 0, 'streamsOpen back to 0');
  await backend?.close();
  backend = undefined;
});

const connectTo = (port: number) => ({ ...target, authority: `127.0.0.1:${port}` });
const oneBackendSocket = async (): Promise<Socket> => {
  assert.ok(await eventually(() => backend!.sockets.size === 1), 'the backend got the tunnel');
  return [...backend!.sockets][0]!;
};

describe('lean HBONE hop: half-close in both orders', { timeout: 30_000 }, () => {
  it('carries the app FIN first, then the reply and the backend FIN, and counts the bytes on both ends', async () => {
    backend = await startBackend((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length}`));
    });
    const pair = await downstreamPair();
    const outcome = appOutcome(pair.app);
    const tunnel = tunnelToHbone(pair.proxied, pool, connectTo(backend.port));
    pair.app.end('x'.repeat(100_000));
    assert.deepEqual(await within(outcome, 5000, 'the reply'), { data: 'got 100000', reset: false });
    const result = await within(tunnel, 5000, 'the client relay');
    assert.deepEqual(result.ok && [result.end, result.bytesAtoB, result.bytesBtoA], ['completed', 100_000, 'got 100000'.length]);
    assert.ok(await eventually(() => serverRelays.length === 1));
    assert.deepEqual([serverRelays[0]!.end, serverRelays[0]!.bytesAtoB, serverRelays[0]!.bytesBtoA], ['completed', 100_000, 'got 100000'.length]);
    assert.ok(await eventually(() => pool.activeStreams() === 0), 'the CONNECT slot is released');
    await pair.close();
  });

  it('carries the backend FIN first and still delivers what the app sends afterwards', async () => {
    let after: Promise<{ data: string; reset: boolean }> | undefined;
    backend = await startBackend((s) => {
      after = backendOutcome(s);
      s.end('banner');
    });
    const pair = await downstreamPair();
    const chunks: Buffer[] = [];
    pair.app.on('data', (d: Buffer) => chunks.push(d));
    const tunnel = tunnelToHbone(pair.proxied, pool, connectTo(backend.port));
    await within(new Promise((r) => pair.app.once('end', r)), 5000, 'the backend FIN at the app');
    assert.equal(Buffer.concat(chunks).toString(), 'banner');
    pair.app.end('after the fin');
    assert.deepEqual(await within(after!, 5000, 'the backend to see the app end'), { data: 'after the fin', reset: false });
    const result = await within(tunnel, 5000, 'the client relay');
    assert.equal(result.ok && result.end, 'completed');
    await pair.close();
  });
});

describe('lean HBONE hop: resets cross the tunnel as resets', { timeout: 30_000 }, () => {
  it('turns an app RST into RST_STREAM(CONNECT_ERROR) and a backend RST', async () => {
    backend = await startBackend(() => undefined);
    const pair = await downstreamPair();
    const tunnel = tunnelToHbone(pair.proxied, pool, connectTo(backend.port));
    const upstream = await oneBackendSocket();
    const seen = backendOutcome(upstream);
    pair.app.write('partial');
    assert.ok(await eventually(() => upstream.bytesRead === 'partial'.length));
    pair.app.resetAndDestroy();
    assert.deepEqual(await within(seen, 5000, 'the backend to see the end'), { data: 'partial', reset: true });
    const result = await within(tunnel, 5000, 'the client relay');
    assert.equal(result.ok && result.end, 'socket_reset');
    assert.ok(await eventually(() => serverRelays.length === 1));
    assert.equal(serverRelays[0]!.end, 'stream_reset');
    await pair.close();
  });

  it('turns a backend RST into a reset of the app connection', async () => {
    backend = await startBackend((s) => s.write('hi'));
    const pair = await downstreamPair();
    const outcome = appOutcome(pair.app);
    const tunnel = tunnelToHbone(pair.proxied, pool, connectTo(backend.port));
    const upstream = await oneBackendSocket();
    assert.ok(await eventually(() => pair.app.bytesRead === 2));
    upstream.resetAndDestroy();
    assert.deepEqual(await within(outcome, 5000, 'the app to see the end'), { data: 'hi', reset: true });
    const result = await within(tunnel, 5000, 'the client relay');
    assert.equal(result.ok && result.end, 'stream_reset');
    await pair.close();
  });

  it('ends a relay paused on backpressure when its stream is reset, releasing its slot', async () => {
    // The backend resets only once the server read all it sent: a reset with bytes still in the
    // backend's kernel buffer was seen to reach the server as a FIN (loopback, Node 20).
    const size = 512 * 1024;
    backend = await startBackend((s) => s.write(Buffer.alloc(size, 7)));
    // A downstream that never finishes a write: past maxQueuedBytes the relay pauses the stream.
    const stuck = new Duplex({ read() {}, write() {} });
    const stream = await pool.connect(connectTo(backend.port)) as H2Stream;
    const done = relay(stuck, stream);
    assert.ok(await eventually(() => stream.isPaused() && lastUpstream?.bytesRead === size), 'the relay paused the stream');
    (await oneBackendSocket()).resetAndDestroy();
    const result = await within(done, 5000, 'the paused relay to end');
    assert.equal(result.end, 'stream_reset');
    assert.equal(stream.rstCode, H2Error.ConnectError, 'reset by the server with CONNECT_ERROR');
    assert.equal(stuck.destroyed, true, 'the downstream is torn down');
    assert.ok(await eventually(() => pool.activeStreams() === 0), 'the CONNECT slot is released');
  });
});

describe('lean HBONE hop: the client side goes away under open tunnels', { timeout: 30_000 }, () => {
  it('pool.close() resets every open tunnel and the server releases their backends', async () => {
    backend = await startBackend(() => undefined);
    const pairs = await Promise.all([1, 2, 3].map(() => downstreamPair()));
    const outcomes = pairs.map((p) => appOutcome(p.app));
    const tunnels = pairs.map((p) => tunnelToHbone(p.proxied, pool, connectTo(backend!.port)));
    assert.ok(await eventually(() => backend!.sockets.size === 3 && pool.activeStreams() === 3));
    await pool.close();
    const results = await within(Promise.all(tunnels), 5000, 'every tunnel to end');
    assert.deepEqual(results.map((r) => r.ok && r.end), ['stream_reset', 'stream_reset', 'stream_reset']);
    for (const o of await Promise.all(outcomes)) assert.equal(o.reset, true, 'the app sees a reset, not a clean end');
    assert.ok(await eventually(() => backend!.sockets.size === 0), 'the server closed the backend connections');
    for (const p of pairs) await p.close();
  });

  it('a client whose TLS connection vanishes mid-tunnel leaves no session, stream or backend on the server', async () => {
    backend = await startBackend(() => undefined);
    const stream = await pool.connect(connectTo(backend.port)) as H2Stream;
    stream.on('error', () => undefined);
    stream.write('half a request');
    await oneBackendSocket();
    (stream.session as H2Session).socket.destroy();
    assert.ok(await eventually(() => hbone.hbone.sessionCount() === 0 && hbone.hbone.stats.streamsOpen === 0), 'the server session and stream are gone');
    assert.ok(await eventually(() => backend!.sockets.size === 0), 'the backend connection is closed');
    assert.ok(await eventually(() => serverRelays.length === 1));
    assert.equal(serverRelays[0]!.end, 'stream_reset');
    assert.ok(await eventually(() => pool.activeStreams() === 0 && pool.sessionCount() === 0), 'the pool dropped the session');
  });
});

describe('lean HBONE pool: CONNECT headers as node:http2 sends them', { timeout: 30_000 }, () => {
  for (const engine of ['lean', 'node'] as const) {
    it(`(${engine} engine) lowercases names, stringifies numbers and lists, and never lets a header replace :authority`, async () => {
      pool = new HbonePool({ logger: silentLogger(), engine });
      backend = await startBackend((s) => s.end());
      const stream = await pool.connect({ ...connectTo(backend.port), headers: { 'X-Trace': 'a', 'x-n': 5, 'x-list': ['a', 'b'], ':authority': '127.0.0.1:1' } });
      stream.resume();
      stream.end();
      assert.deepEqual(requests, [{ authority: `127.0.0.1:${backend.port}`, headers: { 'x-trace': 'a', 'x-n': '5', 'x-list': 'a, b' } }]);
    });
  }
});

describe('lean HBONE pool: a session that cannot open another stream', { timeout: 30_000 }, () => {
  it('is retired once its stream ids run out, so the next CONNECT opens a new session instead of failing forever', async () => {
    backend = await startBackend((s) => s.end());
    const first = await pool.connect(connectTo(backend.port)) as H2Stream;
    first.resume();
    first.end();
    // 2^31-1 is the last client stream id (RFC 9113 §5.1.1): a busy node pair reaches it in about
    // a day at 10,000 connections per second on one long-lived session.
    (first.session as unknown as { nextStreamId: number }).nextStreamId = 0x7fff_ffff;
    const last = await pool.connect(connectTo(backend.port)) as H2Stream;
    assert.equal(last.id, 0x7fff_ffff);
    last.resume();
    last.end();
    await assert.rejects(pool.connect(connectTo(backend.port)), /identifiers exhausted/);
    const fresh = await pool.connect(connectTo(backend.port)) as H2Stream;
    assert.equal(fresh.id, 1, 'a new session carries the next CONNECT');
    fresh.resume();
    fresh.end();
    assert.ok(await eventually(() => pool.activeStreams() === 0 && pool.sessionCount() === 1), 'the exhausted session is gone once its streams closed');
  });
});
