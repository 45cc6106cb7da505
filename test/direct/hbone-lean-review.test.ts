// Direct tier: the HBONE pool on the lean HTTP/2 engine (shared/h2) against a server scripted
// frame by frame (test/support/scripted-h2-server.ts): what the pool does with a late 200, a
// refusal, a GOAWAY among in-flight CONNECTs, and a 200 that arrives with a reset or with the
// whole reply in the same TCP segment. Each case checks that the CONNECT slot is given back.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { isMeshError } from '../../shared/errors.js';
import { HbonePool, type HboneTarget } from '../../shared/hbone/pool.js';
import { tunnelToHbone } from '../../shared/hbone/tunnel.js';
import { silentLogger } from '../../shared/log.js';
import { dataFrame, H2Error, rstStreamFrame, SettingsId } from '../support/h2-frames.js';
import { appOutcome, downstreamPair } from '../support/downstream-pair.js';
import { createTestMesh, eventually, type TestMesh } from '../support/mesh.js';
import { goawayFrame, ScriptedH2Server, statusFrame } from '../support/scripted-h2-server.js';
import { within } from '../support/within.js';

let mesh: TestMesh;
let server: ScriptedH2Server;
let pool: HbonePool;
let target: HboneTarget;
const authority = '10.0.0.1:80';

before(async () => {
  mesh = await createTestMesh();
});
after(async () => {
  await server?.close();
});

describe('HbonePool (lean engine) against a scripted HBONE server', { timeout: 30_000 }, () => {
  before(async () => {
    server = await ScriptedH2Server.start(mesh.serverCert);
  });
  afterEach(async () => {
    await pool.close();
    server.onStream = () => undefined;
    server.settings = [];
    server.greeting = Buffer.alloc(0);
    assert.equal(pool.activeStreams(), 0, 'no CONNECT slot left reserved');
    assert.equal(pool.keyCount(), 0, 'no key left in the pool');
  });
  const newPool = (opts: Partial<ConstructorParameters<typeof HbonePool>[0]> = {}): HbonePool => {
    pool = new HbonePool({ logger: silentLogger(), engine: 'lean', ...opts });
    target = { source: mesh.clientCert, expectedIdentities: [mesh.serverId], nextHop: { host: '127.0.0.1', port: server.port } };
    return pool;
  };

  it('cancels a CONNECT that is not answered in time, frees its slot, and ignores the late 200', async () => {
    newPool();
    await assert.rejects(pool.connect({ ...target, authority, timeoutMs: 150 }), (err) => isMeshError(err, 'HBONE_TIMEOUT'));
    const conn = server.connections.at(-1)!;
    assert.ok(await eventually(() => pool.activeStreams() === 0), 'the slot is released');
    assert.ok(await eventually(() => conn.resets.get(1) === H2Error.Cancel), 'the server got RST_STREAM(CANCEL) for the stream');
    conn.write(statusFrame(1, 200));
    conn.write(dataFrame(1, Buffer.from('late')));
    server.onStream = (c, id) => c.write(statusFrame(id, 200));
    const next = await pool.connect({ ...target, authority, timeoutMs: 2000 });
    assert.equal(next.id, 3, 'the same session carries the next CONNECT');
    assert.equal(pool.sessionCount(), 1, 'the late answer did not break the session');
    assert.equal(pool.activeStreams(), 1);
    next.close();
  });

  it('rejects a refused CONNECT with its status and gives the slot back', async () => {
    newPool();
    server.onStream = (c, id) => c.write(Buffer.concat([statusFrame(id, 503, true), rstStreamFrame(id, H2Error.NoError)]));
    await assert.rejects(pool.connect({ ...target, authority }), (err) => isMeshError(err, 'HBONE_STATUS') && (err as { status?: number }).status === 503);
    assert.ok(await eventually(() => pool.activeStreams() === 0), 'the slot is released');
    assert.equal(pool.sessionCount(), 1, 'a refusal keeps the session');
  });

  it('fails the CONNECTs a GOAWAY left unprocessed, finishes the one it kept, and opens a new session afterwards', async () => {
    newPool();
    let opened = 0;
    server.onStream = (c, id) => {
      if (++opened < 3) return;
      // Streams 1, 3 and 5 are in flight: keep 1, drop the rest, and only then answer 1.
      c.write(Buffer.concat([goawayFrame(1, H2Error.NoError), statusFrame(1, 200)]));
    };
    const results = await Promise.allSettled([1, 2, 3].map(() => pool.connect({ ...target, authority, timeoutMs: 2000 })));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected']);
    for (const r of results.slice(1)) assert.ok(isMeshError((r as PromiseRejectedResult).reason, 'HBONE_CONNECT'), String((r as PromiseRejectedResult).reason));
    const kept = (results[0] as PromiseFulfilledResult<Awaited<ReturnType<HbonePool['connect']>>>).value;
    assert.ok(await eventually(() => pool.activeStreams() === 1), 'only the kept stream holds a slot');
    const first = server.connections.length;
    server.onStream = (c, id) => c.write(statusFrame(id, 200));
    const fresh = await pool.connect({ ...target, authority, timeoutMs: 2000 });
    assert.equal(server.connections.length, first + 1, 'a new connection carries the next CONNECT');
    const drained = server.connections[first - 1]!;
    drained.write(dataFrame(1, Buffer.from('kept'), true));
    const chunks: Buffer[] = [];
    kept.on('data', (d: Buffer) => chunks.push(d));
    await within(new Promise((r) => kept.once('end', r)), 2000, 'the kept stream to end');
    assert.equal(Buffer.concat(chunks).toString(), 'kept');
    fresh.close();
    kept.close();
  });

  it('delivers a reply that came in the same segment as the 200 (held until the relay attaches)', async () => {
    newPool();
    server.onStream = (c, id) => c.write(Buffer.concat([statusFrame(id, 200), dataFrame(id, Buffer.from('banner')), dataFrame(id, Buffer.alloc(0), true)]));
    const pair = await downstreamPair();
    const outcome = appOutcome(pair.app);
    const tunnel = tunnelToHbone(pair.proxied, pool, { ...target, authority });
    assert.deepEqual(await within(outcome, 3000, 'the app to see the reply'), { data: 'banner', reset: false });
    pair.app.end();
    const result = await within(tunnel, 3000, 'the tunnel to finish');
    assert.equal(result.ok && result.end, 'completed');
    await pair.close();
  });

  it('resets the downstream connection when the stream is reset in the same segment as its 200', async () => {
    newPool();
    server.onStream = (c, id) => c.write(Buffer.concat([statusFrame(id, 200), rstStreamFrame(id, H2Error.ConnectError)]));
    const pair = await downstreamPair();
    const outcome = appOutcome(pair.app);
    const tunnel = tunnelToHbone(pair.proxied, pool, { ...target, authority });
    const result = await within(tunnel, 3000, 'the tunnel of a stream reset with its 200 to finish');
    assert.equal(result.ok && result.end, 'stream_reset');
    assert.deepEqual(await within(outcome, 3000, 'the app to see the end'), { data: '', reset: true }, 'the app sees a TCP reset, not a clean close');
    assert.ok(await eventually(() => pool.activeStreams() === 0));
    await pair.close();
  });

  for (const engine of ['lean', 'node'] as const) {
    it(`(${engine} engine) fails a CONNECT at once, on one connection, when the server allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)`, async () => {
      newPool({ engine });
      server.settings = [[SettingsId.MaxConcurrentStreams, 0]];
      const first = server.connections.length;
      await assert.rejects(pool.connect({ ...target, authority, timeoutMs: 1000 }), (err) => isMeshError(err, 'HBONE_CONNECT') && /no new streams/.test((err as Error).message));
      assert.equal(server.connections.length - first, 1, 'one connection, not a reconnect storm until the deadline');
      assert.ok(await eventually(() => pool.sessionCount() === 0 && server.connections.slice(first).every((c) => c.socket.destroyed)), 'the refusing session is closed, not kept for the idle timeout');
    });

    it(`(${engine} engine) fails a CONNECT at once, on one connection, when the server's first frames include a GOAWAY`, async () => {
      newPool({ engine });
      server.greeting = goawayFrame(0, H2Error.NoError);
      const first = server.connections.length;
      // node:http2 may report the GOAWAY after the SETTINGS: then its stream is refused instead.
      await assert.rejects(pool.connect({ ...target, authority, timeoutMs: 1000 }), (err) => isMeshError(err, 'HBONE_CONNECT'));
      assert.equal(server.connections.length - first, 1, 'one connection, not a reconnect storm until the deadline');
    });
  }

  for (const engine of ['lean', 'node'] as const) {
    it(`(${engine} engine) delivers a complete reply that the server followed with RST_STREAM(NO_ERROR) in the same segment`, async () => {
      newPool({ engine });
      server.onStream = (c, id) => c.write(Buffer.concat([statusFrame(id, 200), dataFrame(id, Buffer.from('reply'), true), rstStreamFrame(id, H2Error.NoError)]));
      const pair = await downstreamPair();
      const outcome = appOutcome(pair.app);
      void tunnelToHbone(pair.proxied, pool, { ...target, authority });
      const seen = await within(outcome, 3000, 'the app to see the end');
      await pair.close();
      assert.equal(seen.data, 'reply', 'the complete reply reached the app');
    });
  }
});
