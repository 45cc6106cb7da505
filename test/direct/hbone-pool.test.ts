// Direct tier: the HBONE client pool against Ambit's HBONE server on loopback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { HboneTunnelStream } from '../../shared/hbone/pool.js';
import { isMeshError } from '../../shared/errors.js';
import { HbonePool, type HboneTarget } from '../../shared/hbone/pool.js';
import { tunnelToHbone } from '../../shared/hbone/tunnel.js';
import { silentLogger } from '../../shared/log.js';
import { connectToAuthority, createTestMesh, eventually, identity, startEcho, startHboneServer, type Listening, type TestMesh } from '../support/mesh.js';
import type { HboneConnectRequest } from '../../shared/hbone/server.js';
import type { HboneEngine } from '../../shared/hbone/settings.js';

function roundTrip(stream: HboneTunnelStream, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.end(payload);
  });
}

// Both engines against each other too: lean (shared/h2, ztunnel's) and node (node:http2, the waypoint's).
const enginePairs: ReadonlyArray<readonly [client: HboneEngine, server: HboneEngine]> = [['lean', 'lean'], ['node', 'node'], ['lean', 'node'], ['node', 'lean']];

for (const [clientEngine, serverEngine] of enginePairs) {
  describe(`HbonePool (${clientEngine} engine) against the HBONE server (${serverEngine} engine)`, () => {
    let mesh: TestMesh;
    let echo: Listening & { received(): number };
    let server: Awaited<ReturnType<typeof startHboneServer>>;
    let pool: HbonePool;
    let target: HboneTarget;
    let authority: string;

    before(async () => {
      mesh = await createTestMesh({ intermediate: true });
      echo = await startEcho();
      server = await startHboneServer(mesh.serverCert, { engine: serverEngine });
      authority = `127.0.0.1:${echo.port}`;
    });
    after(async () => {
      await server.close();
      await echo.close();
    });
    afterEach(async () => {
      await pool?.close();
      assert.equal(pool.sessionCount(), 0);
      assert.ok(await eventually(() => server.hbone.connectionCount() === 0), 'server connections drain to 0');
      assert.ok(await eventually(() => echo.connections() === 0), 'backend connections drain to 0');
    });
    const newPool = (opts: Partial<ConstructorParameters<typeof HbonePool>[0]> = {}) => {
      pool = new HbonePool({ logger: silentLogger(), engine: clientEngine, ...opts });
      target = { source: mesh.clientCert, expectedIdentities: [mesh.serverId], nextHop: { host: '127.0.0.1', port: server.port } };
      return pool;
    };

    it('carries bytes both ways intact through a CONNECT stream', async () => {
      newPool();
      const payload = randomBytes(3 * 1024 * 1024 + 17);
      const stream = await pool.connect({ ...target, authority });
      assert.ok((await roundTrip(stream, payload)).equals(payload));
    });

    it('reuses one session for every connection with the same key', async () => {
      newPool();
      const before = server.hbone.stats.sessionsTotal;
      for (let i = 0; i < 5; i++) await roundTrip(await pool.connect({ ...target, authority }), Buffer.from('x'));
      const streams = await Promise.all(Array.from({ length: 20 }, () => pool.connect({ ...target, authority })));
      await Promise.all(streams.map((s) => roundTrip(s, Buffer.from('y'))));
      assert.equal(server.hbone.stats.sessionsTotal - before, 1);
      assert.equal(pool.sessionCount(), 1);
    });

    it('keys sessions by source identity and by the expected destination identities', async () => {
      newPool();
      const other = await mesh.ca.issue(identity('default', 'other-client'));
      const a = await pool.connect({ ...target, authority });
      const b = await pool.connect({ ...target, source: other, authority });
      const c = await pool.connect({ ...target, expectedIdentities: [mesh.serverId, identity('default', 'spare')], authority });
      assert.equal(pool.sessionCount(), 3);
      await Promise.all([a, b, c].map((s) => roundTrip(s, Buffer.from('z'))));
    });

    it('opens at most 100 streams per session and one connect per key for a burst of 1000', async () => {
      newPool();
      const before = server.hbone.stats.sessionsTotal;
      const streams = await Promise.all(Array.from({ length: 1000 }, () => pool.connect({ ...target, authority })));
      assert.equal(server.hbone.stats.sessionsTotal - before, 10);
      assert.equal(pool.activeStreams(), 1000);
      const replies = await Promise.all(streams.map((s, i) => roundTrip(s, Buffer.from(String(i)))));
      assert.ok(replies.every((r, i) => r.toString() === String(i)));
      assert.ok(await eventually(() => pool.activeStreams() === 0));
    });

    it('rejects with the server status when the CONNECT is refused', async () => {
      newPool();
      const closed = net.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((r) => closed.close(() => r()));
      await assert.rejects(pool.connect({ ...target, authority: `127.0.0.1:${port}` }),
        (err) => isMeshError(err, 'HBONE_STATUS') && (err as { status?: number }).status === 503);
      await assert.rejects(pool.connect({ ...target, authority: 'not-an-ip:80' }),
        (err) => isMeshError(err, 'HBONE_STATUS') && (err as { status?: number }).status === 400);
      // the session survived both refusals
      assert.ok((await roundTrip(await pool.connect({ ...target, authority }), Buffer.from('ok'))).equals(Buffer.from('ok')));
      assert.equal(pool.sessionCount(), 1);
    });

    it('refuses a server whose identity is not expected, before sending anything', async () => {
      newPool();
      const received = echo.received();
      await assert.rejects(pool.connect({ ...target, expectedIdentities: [identity('default', 'someone-else')], authority }),
        (err) => isMeshError(err, 'HBONE_CONNECT') && /identity_mismatch/.test(err.message));
      assert.equal(echo.received(), received);
      assert.equal(pool.sessionCount(), 0);
      assert.equal(pool.serverRejections.get('identity_mismatch'), 1);
    });

    it('releases idle sessions after the idle timeout', async () => {
      newPool({ idleTimeoutMs: 150 });
      await roundTrip(await pool.connect({ ...target, authority }), Buffer.from('idle'));
      assert.equal(pool.sessionCount(), 1);
      assert.ok(await eventually(() => pool.sessionCount() === 0, 3000));
      assert.ok(await eventually(() => server.hbone.sessionCount() === 0, 3000));
    });

    it('lets in-flight streams finish after a GOAWAY and uses a new session afterwards', async () => {
      newPool();
      const inflight = await pool.connect({ ...target, authority });
      // Reach into the server for its one session (drain() would also refuse the next connection).
      const [state] = [...(server.hbone as unknown as { sessions: Set<{ session: { close(): void } }> }).sessions];
      state!.session.close(); // graceful: GOAWAY with the last stream id, existing streams continue
      await new Promise((r) => setTimeout(r, 50));
      const payload = randomBytes(256 * 1024);
      assert.ok((await roundTrip(inflight, payload)).equals(payload));
      const fresh = await pool.connect({ ...target, authority });
      assert.ok((await roundTrip(fresh, Buffer.from('after'))).equals(Buffer.from('after')));
    });

    it('drops a session whose peer stops answering PINGs', async () => {
      // A TCP relay in front of the server that can be frozen: bytes stop flowing both ways.
      let frozen = false;
      const links: net.Socket[] = [];
      const relay = net.createServer((down) => {
        const up = net.connect(server.port, '127.0.0.1');
        links.push(down, up);
        for (const [a, b] of [[down, up], [up, down]] as const) {
          a.on('data', (d: Buffer) => { if (!frozen) b.write(d); });
          a.on('error', () => b.destroy());
          a.on('close', () => b.destroy());
        }
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      newPool({ pingIntervalMs: 50, pingTimeoutMs: 200 });
      const via = { ...target, nextHop: { host: '127.0.0.1', port: (relay.address() as AddressInfo).port } };
      await roundTrip(await pool.connect({ ...via, authority }), Buffer.from('alive'));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(pool.sessionCount(), 1, 'answered PINGs keep an idle session');
      frozen = true;
      assert.ok(await eventually(() => pool.sessionCount() === 0, 3000), 'session dropped after the PING deadline');
      for (const s of links) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    });

    it('times out a connect to a peer that never completes the handshake', async () => {
      const accepted: net.Socket[] = [];
      const silent = net.createServer((s) => void accepted.push(s)); // accepts, never answers
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      newPool({ connectTimeoutMs: 200 });
      const started = Date.now();
      await assert.rejects(pool.connect({ ...target, nextHop: { host: '127.0.0.1', port: (silent.address() as AddressInfo).port }, authority }),
        (err) => isMeshError(err, 'HBONE_TIMEOUT'));
      assert.ok(Date.now() - started < 5000);
      for (const s of accepted) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    });

    it('sends forwarded, traceparent and baggage, and the server sees the mTLS identity', async () => {
      const seen: HboneConnectRequest[] = [];
      const spy = await startHboneServer(mesh.serverCert, { engine: serverEngine, onConnect: async (req) => { seen.push(req); return connectToAuthority(req); } });
      newPool();
      const downstream = net.createServer({ allowHalfOpen: true }, (s) => void tunnelToHbone(s, pool,
        { ...target, nextHop: { host: '127.0.0.1', port: spy.port }, authority }, { serviceHostname: 'echo.demo.svc.cluster.local', baggage: { namespace: 'demo' } }));
      await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const c = net.connect({ port: (downstream.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true }, () => c.end('through'));
        const chunks: Buffer[] = [];
        c.on('data', (d: Buffer) => chunks.push(d)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
      });
      assert.equal(reply.toString(), 'through');
      const req = seen[0]!;
      assert.deepEqual(req.peer, mesh.clientId);
      assert.deepEqual(req.authority, { ip: '127.0.0.1', port: echo.port });
      assert.match(String(req.headers.forwarded), /^for="127\.0\.0\.1:\d+";host=echo\.demo\.svc\.cluster\.local$/);
      assert.match(String(req.headers.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      assert.equal(req.headers.baggage, 'k8s.namespace.name=demo');
      assert.equal(Object.getPrototypeOf(req.headers), null);
      await new Promise<void>((r) => downstream.close(() => r()));
      await pool.close();
      await spy.close();
    });

    it('resets the client connection when the tunnel cannot be opened', async () => {
      newPool();
      const downstream = net.createServer((s) => void tunnelToHbone(s, pool, { ...target, authority: '127.0.0.1:1' }));
      await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
      const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
        const c = net.connect((downstream.address() as AddressInfo).port, '127.0.0.1');
        c.on('error', (e) => resolve(e));
        c.on('close', () => resolve(undefined));
      });
      assert.equal(err?.code, 'ECONNRESET');
      await new Promise<void>((r) => downstream.close(() => r()));
    });
  });
}
