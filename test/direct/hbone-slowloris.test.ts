// Slowloris on the HBONE server (15008), reliability case 16: connections that never finish the
// TLS handshake, never send the HTTP/2 preface, or go silent afterwards are closed by the
// handshake or idle timeout (shortened here so the tests stay fast) and counted; their number is
// bounded, and normal tunnels keep working meanwhile.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { afterEach, before, describe, it } from 'node:test';
import type { HboneServerOptions } from '../../shared/hbone/server.js';
import { HboneHarness } from '../support/hbone-harness.js';
import { createTestMesh, type TestMesh } from '../support/mesh.js';
import { captureClientHello, tcpProbe } from '../support/tcp-probe.js';
import { tlsProbe } from '../support/tls-probe.js';

/** A hung await fails its suite instead of hanging the run. */
const suiteTimeoutMs = 30_000;

const handshakeTimeoutMs = 300;
/** How long after the handshake timeout a connection may still be open: generous, for slow CI. */
const closeSlackMs = 1500;

let mesh: TestMesh;
let clientHello: Buffer;
let h: HboneHarness | undefined;

before(async () => {
  mesh = await createTestMesh();
  clientHello = await captureClientHello();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(opts: Partial<HboneServerOptions> = {}): Promise<HboneHarness> {
  h = await HboneHarness.start(mesh, { handshakeTimeoutMs, ...opts });
  return h;
}

function rejections(harness: HboneHarness): Record<string, number> {
  return Object.fromEntries(harness.hbone.stats.connectionRejections);
}

describe('HBONE server closes slow handshakes at the handshake timeout (case 16)', { timeout: suiteTimeoutMs }, () => {
  const scripts: readonly { name: string; run: (s: Socket) => void }[] = [
    { name: 'sends nothing after connecting', run: () => undefined },
    { name: 'stops halfway through its ClientHello', run: (s) => s.write(clientHello.subarray(0, 20)) },
    {
      name: 'trickles its ClientHello one byte every 50 ms',
      run: (s) => {
        let i = 0;
        const timer = setInterval(() => {
          if (s.destroyed || i >= clientHello.length - 1) return clearInterval(timer);
          s.write(clientHello.subarray(i, ++i));
        }, 50);
        s.once('close', () => clearInterval(timer));
      },
    },
  ];
  for (const script of scripts) {
    it(`closes a connection that ${script.name}, counted as handshake_timeout`, async () => {
      const harness = await start();
      const result = await tcpProbe(harness.port, script.run, handshakeTimeoutMs + closeSlackMs + 1000);
      assert.equal(result.closedByServer, true, `the server closes the connection (still open after ${result.elapsedMs} ms)`);
      assert.ok(result.elapsedMs < handshakeTimeoutMs + closeSlackMs, `closed after ${result.elapsedMs} ms`);
      assert.deepEqual(rejections(harness), { handshake_timeout: 1 });
      assert.equal(harness.hbone.stats.sessionsTotal, 0);
      await harness.assertServing();
      await harness.assertReleased();
    });
  }

  it('closes a TLS connection that never sends the HTTP/2 preface, counted as preface_timeout', async () => {
    const harness = await start();
    const result = await tlsProbe({ port: harness.port, caPem: mesh.ca.rootsPem, keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem, timeoutMs: handshakeTimeoutMs + closeSlackMs });
    assert.equal(result.secureConnected, true, 'fixture: the TLS handshake itself succeeds');
    assert.equal(result.closedByServer, true, 'the server closes the connection');
    assert.deepEqual(rejections(harness), { preface_timeout: 1 });
    assert.ok(await waitFor(() => harness.hbone.stats.sessionsOpen === 0), 'the session is gone');
    await harness.assertServing();
    await harness.assertReleased();
  });

  it('closes an HTTP/2 session that goes silent after its preface at the idle timeout, with GOAWAY', async () => {
    const harness = await start({ idleTimeoutMs: 500 });
    const raw = await harness.rawClient();
    assert.equal(await raw.waitClosed(500 + closeSlackMs), true, 'the server closes the idle session');
    assert.equal(raw.goaways[0]?.errorCode, 0, 'with GOAWAY(NO_ERROR) first');
    assert.ok(await waitFor(() => harness.hbone.stats.sessionsOpen === 0), 'the session is gone');
    await harness.assertServing();
    await harness.assertReleased();
  });
});

describe('HBONE server bounds slowloris connections and keeps serving (case 16)', { timeout: suiteTimeoutMs }, () => {
  it('refuses connections over maxConnections at once and times out the rest', async () => {
    const harness = await start({ maxConnections: 20 });
    const holders = Array.from({ length: 20 }, () => tcpProbe(harness.port, () => undefined, handshakeTimeoutMs + closeSlackMs + 1000));
    assert.ok(await waitFor(() => harness.hbone.connectionCount() === 20), 'fixture: 20 slow connections are held');
    const extra = await Promise.all(Array.from({ length: 10 }, () => tcpProbe(harness.port, () => undefined, handshakeTimeoutMs)));
    assert.ok(extra.every((r) => r.closedByServer), 'connections over the limit are closed at once');
    assert.equal(harness.hbone.connectionCount(), 20, 'the limit holds');
    const held = await Promise.all(holders);
    assert.equal(held.filter((r) => r.closedByServer).length, 20, 'every held connection is closed by the handshake timeout');
    assert.deepEqual(rejections(harness), { too_many_connections: 10, handshake_timeout: 20 });
    await harness.assertServing();
    await harness.assertReleased();
  });

  it('serves a normal tunnel while 50 slowloris connections are open, then closes them all', async () => {
    const harness = await start({ handshakeTimeoutMs: 1000 });
    const holders = Array.from({ length: 50 }, () => tcpProbe(harness.port, (s) => s.write(clientHello.subarray(0, 20)), 1000 + closeSlackMs + 1000));
    assert.ok(await waitFor(() => harness.hbone.connectionCount() === 50), 'fixture: 50 slow connections are held');
    await harness.assertServing();
    const held = await Promise.all(holders);
    assert.equal(held.filter((r) => r.closedByServer).length, 50, 'every slowloris connection is closed by the server');
    assert.equal(harness.hbone.stats.connectionRejections.get('handshake_timeout'), 50);
    await harness.assertReleased();
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return cond();
}
