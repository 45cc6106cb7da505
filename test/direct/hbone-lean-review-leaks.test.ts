// Direct tier: what stays behind on the lean HTTP/2 engine (shared/h2) after many tunnels, idle
// sessions and refusals: counts of streams, slots, listeners and blocked queues, never timings.
import assert from 'node:assert/strict';
import net, { type AddressInfo, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { EventEmitter } from 'node:events';
import { isMeshError } from '../../shared/errors.js';
import type { H2Stream } from '../../shared/h2/h2-stream.js';
import { HbonePool, type HboneTarget, type HboneTunnelStream } from '../../shared/hbone/pool.js';
import type { HboneServerOptions } from '../../shared/hbone/server.js';
import { HboneDefaults, type HboneEngine } from '../../shared/hbone/settings.js';
import { silentLogger } from '../../shared/log.js';
import { createTestMesh, eventually, startEcho, startHboneServer, type Listening, type TestMesh } from '../support/mesh.js';
import { connectBlock, headersFrame } from '../support/h2-frames.js';
import { RawH2Client } from '../support/raw-h2-client.js';
import { within } from '../support/within.js';

let mesh: TestMesh;
let echo: Listening;
let servers: Awaited<ReturnType<typeof startHboneServer>>[] = [];
let pool: HbonePool;

before(async () => {
  mesh = await createTestMesh();
  echo = await startEcho();
});
after(async () => {
  await echo.close();
});
afterEach(async () => {
  await pool?.close();
  for (const s of servers) await s.close();
  servers = [];
});

async function serverWith(opts: Partial<HboneServerOptions> = {}): Promise<{ server: Awaited<ReturnType<typeof startHboneServer>>; target: HboneTarget }> {
  const server = await startHboneServer(mesh.serverCert, { engine: 'lean', ...opts });
  servers.push(server);
  pool = new HbonePool({ logger: silentLogger(), engine: 'lean' });
  return { server, target: { source: mesh.clientCert, expectedIdentities: [mesh.serverId], nextHop: { host: '127.0.0.1', port: server.port } } };
}

function echoOnce(stream: HboneTunnelStream, payload: string): Promise<string> {
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
  stream.end(payload);
  return within(closed, 5000, 'an echo tunnel to close').then(() => Buffer.concat(chunks).toString());
}

/** Listener counts of an emitter, by event name. */
function listeners(e: EventEmitter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of e.eventNames()) out[String(name)] = e.listenerCount(name);
  return out;
}

interface SessionInternals {
  readonly streamCount: number;
  readonly socket: Socket;
  readonly blocked: Set<unknown>;
  readonly pings: { readonly outstanding: number };
}

function serverSessions(server: Awaited<ReturnType<typeof startHboneServer>>): SessionInternals[] {
  const states = (server.hbone as unknown as { sessions: Set<{ session: SessionInternals }> }).sessions;
  return [...states].map((s) => s.session);
}

describe('lean HBONE engine: nothing per tunnel is retained', { timeout: 60_000 }, () => {
  it('after 2,000 tunnels opened and closed, both sessions hold no stream, slot, blocked queue or extra listener', async () => {
    const { server, target } = await serverWith();
    const authority = `127.0.0.1:${echo.port}`;
    const batch = async (n: number): Promise<SessionInternals> => {
      const streams = await Promise.all(Array.from({ length: n }, () => pool.connect({ ...target, authority })));
      const replies = await Promise.all(streams.map((s, i) => echoOnce(s, `t${i}`)));
      assert.ok(replies.every((r, i) => r === `t${i}`), 'every tunnel echoed its bytes');
      return (streams[0] as H2Stream).session as unknown as SessionInternals;
    };
    const client = await batch(100);
    const [serverSession] = serverSessions(server);
    const baseline = {
      client: listeners(client as unknown as EventEmitter),
      clientSocket: listeners(client.socket),
      server: listeners(serverSession as unknown as EventEmitter),
      serverSocket: listeners(serverSession!.socket),
    };
    for (let i = 0; i < 19; i++) assert.equal(await batch(100), client, 'the same session');
    assert.equal(server.hbone.stats.streamsAccepted >= 2000, true);
    assert.ok(await eventually(() => server.hbone.stats.streamsOpen === 0), 'the server counts no open stream');
    assert.equal(pool.sessionCount(), 1, 'one session carried them all');
    assert.equal(serverSessions(server).length, 1);
    assert.deepEqual({
      client: listeners(client as unknown as EventEmitter),
      clientSocket: listeners(client.socket),
      server: listeners(serverSession as unknown as EventEmitter),
      serverSocket: listeners(serverSession!.socket),
    }, baseline, 'no listener was added per tunnel');
    for (const s of [client, serverSession!]) {
      assert.equal(s.blocked.size, 0, 'no stream waits for window');
      assert.ok(s.pings.outstanding <= 1, 'no ping is left outstanding');
    }
    assert.ok(await eventually(() => client.streamCount === 0 && serverSession!.streamCount === 0), 'the sessions hold no closed stream');
    assert.equal(pool.activeStreams(), 0, 'no CONNECT slot is held');
  });
});

describe('lean HBONE engine: idle sessions and refusals', { timeout: 30_000 }, () => {
  it('the server closes an idle session and the pool drops it', async () => {
    const { server, target } = await serverWith({ idleTimeoutMs: 200 });
    assert.equal(await echoOnce(await pool.connect({ ...target, authority: `127.0.0.1:${echo.port}` }), 'idle soon'), 'idle soon');
    assert.equal(pool.sessionCount(), 1);
    assert.ok(await eventually(() => server.hbone.connectionCount() === 0 && server.hbone.stats.sessionsOpen === 0, 3000), 'the server closed it');
    assert.ok(await eventually(() => pool.sessionCount() === 0 && pool.keyCount() === 0, 3000), 'the pool dropped it');
  });

  it('the server ends an idle session with a quiet open tunnel after its grace: the tunnel is reset and nothing stays', async () => {
    const { server, target } = await serverWith({ idleTimeoutMs: 200, closeGraceMs: 300 });
    const stream = await pool.connect({ ...target, authority: `127.0.0.1:${echo.port}` });
    stream.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    await within(closed, 5000, 'the quiet tunnel to be closed by the server');
    assert.notEqual(stream.rstCode, 0, 'a reset, not a clean end');
    assert.ok(await eventually(() => server.hbone.connectionCount() === 0 && server.hbone.stats.streamsOpen === 0 && server.hbone.stats.sessionsOpen === 0), 'the server holds nothing');
    assert.ok(await eventually(() => pool.sessionCount() === 0 && pool.activeStreams() === 0), 'the pool holds nothing');
    assert.ok(await eventually(() => echo.connections() === 0), 'the backend connection is closed');
  });

  it('a `take` decision is refused with 503 on the lean engine and counted', async () => {
    const { server, target } = await serverWith({ onConnect: async () => ({ status: 200, take: () => undefined }) });
    await assert.rejects(pool.connect({ ...target, authority: '127.0.0.1:1' }), (err) => isMeshError(err, 'HBONE_STATUS') && (err as { status?: number }).status === 503);
    assert.equal(server.hbone.stats.streamRejections.get('take_needs_node_engine'), 1);
    assert.ok(await eventually(() => server.hbone.stats.streamsOpen === 0 && pool.activeStreams() === 0));
  });

  // 12 x 4 MiB stream windows stay under the session's 64 MiB bound for held bytes (past it, the
  // stream that crosses it is reset: test/direct/h2-session-raw.test.ts).
  it('slow consumers on 12 tunnels of one session do not cost the session (flow control bounds each)', async () => {
    const blob = Buffer.alloc(5 * 1024 * 1024, 1);
    const blasted: net.Socket[] = [];
    const blaster = net.createServer((s) => { blasted.push(s); s.on('error', () => undefined); s.write(blob); });
    await new Promise<void>((r) => blaster.listen(0, '127.0.0.1', r));
    try {
      const { target } = await serverWith();
      const authority = `127.0.0.1:${(blaster.address() as AddressInfo).port}`;
      const opened = await Promise.allSettled(Array.from({ length: 12 }, () => pool.connect({ ...target, authority })));
      await new Promise((r) => setTimeout(r, 1000));
      const streams = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      assert.equal(streams.length, 12, 'every CONNECT succeeded');
      assert.equal(streams.filter((s) => s.destroyed).length, 0, 'no paused tunnel was torn down');
      let got = 0;
      streams[0]!.on('data', (d: Buffer) => { got += d.length; });
      assert.ok(await eventually(() => got === blob.length), 'a consumer that resumes gets all its bytes');
    } finally {
      // server.close() waits for every connection: the 11 tunnels left paused are still open.
      for (const s of blasted) s.destroy();
      await new Promise<void>((r) => blaster.close(() => r()));
    }
  });
});

describe('HBONE server: a session of refused streams is closed on either engine', { timeout: 30_000 }, () => {
  for (const engine of ['lean', 'node'] as const satisfies readonly HboneEngine[]) {
    it(`(${engine} engine) closes a session that keeps sending malformed CONNECTs after the rejected-stream budget`, async () => {
      const { server } = await serverWith({ engine });
      const raw = await RawH2Client.open({ port: server.port, keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem, caPem: mesh.ca.rootsPem });
      try {
        // An uppercase field name makes the request malformed (RFC 9113 §8.2.1): the engine resets it.
        const block = connectBlock(`127.0.0.1:${echo.port}`, [['X-Upper', 'x']]);
        const sent = await raw.flood(20_000, (i) => headersFrame(2 * i + 1, block, { endStream: true }));
        assert.ok(await raw.waitClosed(3000), `the session is closed (after ${sent} HEADERS, ${raw.resets.size} resets)`);
        assert.ok(raw.resets.size <= HboneDefaults.maxSessionRejectedStreams + 1, `at most the budget was answered (${raw.resets.size})`);
        if (engine === 'lean') assert.equal(server.hbone.stats.connectionRejections.get('rejected_streams'), 1, 'counted as rejected_streams');
        assert.ok(await eventually(() => server.hbone.connectionCount() === 0), 'the server let the connection go');
      } finally {
        raw.destroy();
      }
    });
  }
});
