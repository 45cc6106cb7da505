// Bad client certificates and non-HBONE clients on the HBONE server (15008): reliability cases 1-7
// (reliability-cases.md §6, with §4c). Each rejection must come before any HTTP/2 session, be
// counted by reason, leave the backend untouched, and leave the server serving others.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { ErrorCode, isMeshError } from '../../shared/errors.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { CertForge, type ForgedCert } from '../support/cert-forge.js';
import { clientPreface, connectBlock, dataFrame, headersFrame, settingsFrame } from '../support/h2-frames.js';
import { HboneHarness } from '../support/hbone-harness.js';
import { createTestMesh, identity, type TestMesh } from '../support/mesh.js';
import { tcpProbe } from '../support/tcp-probe.js';
import { tlsProbe, type TlsProbeResult } from '../support/tls-probe.js';

/** A hung await fails its suite instead of hanging the run. */
const suiteTimeoutMs = 30_000;

const spiffe = 'spiffe://cluster.local/ns/attacker/sa/default';
const dayMs = 24 * 3600_000;

let mesh: TestMesh;
let forge: CertForge;
let h: HboneHarness;

before(async () => {
  mesh = await createTestMesh();
  forge = await CertForge.create(mesh.ca);
});
after(() => forge.close());
beforeEach(async () => {
  h = await HboneHarness.start(mesh);
});
afterEach(() => h.close());

function rejections(): Record<string, number> {
  return Object.fromEntries(h.hbone.stats.connectionRejections);
}

/** What an attacker sends the moment its side of the handshake is done: a CONNECT to the victim with data. */
function attackBytes(): Buffer {
  return Buffer.concat([clientPreface, settingsFrame(), headersFrame(1, connectBlock(h.victimAuthority())), dataFrame(1, Buffer.from('attack'), true)]);
}

function probe(cert: ForgedCert | undefined, alpn?: readonly string[]): Promise<TlsProbeResult> {
  return tlsProbe({ port: h.port, caPem: mesh.ca.rootsPem, ...(cert ? { keyPem: cert.keyPem, certPem: cert.certPem } : {}), ...(alpn ? { alpn } : {}), send: attackBytes() });
}

/** The common outcome of every rejected handshake, then the "still serving" and leak checks. */
async function assertRejectedBeforeSession(result: TlsProbeResult, reason: string): Promise<void> {
  assert.equal(result.closedByServer, true, 'the server closes the connection');
  assert.equal(result.bytesReceived, 0, 'the client gets no HTTP/2 byte, not even SETTINGS');
  assert.deepEqual(rejections(), { [reason]: 1 }, 'exactly one rejection, with this reason');
  assert.equal(h.hbone.stats.sessionsTotal, 0, 'no HTTP/2 session was created');
  assert.equal(h.hbone.stats.streamsTotal, 0, 'no CONNECT reached the server code');
  assert.equal(h.victim.received(), 0, 'the backend received nothing');
  await h.assertServing();
  await h.assertReleased();
}

describe('HBONE server rejects bad client certificates before any session', { timeout: suiteTimeoutMs }, () => {
  it('rejects a mesh-CA certificate for another trust domain as trust_domain_mismatch (case 1)', async () => {
    const cert = await forge.leaf({ uris: ['spiffe://other.local/ns/x/sa/y'], eku: ['clientAuth'] });
    await assertRejectedBeforeSession(await probe(cert), 'trust_domain_mismatch');
  });

  it('rejects a certificate chained to a foreign CA as an untrusted handshake (case 1)', async () => {
    const foreignCa = await CertificateAuthority.create({ trustDomain: 'other.local' });
    const foreign = await foreignCa.issue(identity('x', 'y', 'other.local'));
    await assertRejectedBeforeSession(await probe({ keyPem: foreign.keyPem, certPem: foreign.chainPem }), 'handshake_failed');
  });

  it('rejects an expired client certificate (case 2)', async () => {
    const past = await forge.caAt(new ManualClock(Date.now() - 3 * dayMs));
    const cert = await past.issue(identity('x', 'y'), { ttlMs: dayMs });
    assert.ok(cert.notAfterMs < Date.now(), 'fixture: the leaf is expired');
    await assertRejectedBeforeSession(await probe({ keyPem: cert.keyPem, certPem: cert.chainPem }), 'handshake_failed');
  });

  it('rejects a client certificate whose notBefore is in the future (case 2)', async () => {
    const future = await forge.caAt(new ManualClock(Date.now() + 3 * dayMs));
    const cert = await future.issue(identity('x', 'y'));
    assert.ok(cert.notBeforeMs > Date.now(), 'fixture: the leaf is not valid yet');
    await assertRejectedBeforeSession(await probe({ keyPem: cert.keyPem, certPem: cert.chainPem }), 'handshake_failed');
  });

  it('fails the handshake with certificate_required when the client sends no certificate (case 3)', async () => {
    const result = await probe(undefined);
    assert.equal(result.errorCode, 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'the client gets the TLS alert');
    await assertRejectedBeforeSession(result, 'handshake_failed');
  });

  it('rejects a self-signed certificate carrying a valid-looking SPIFFE ID (case 4)', async () => {
    const cert = await forge.leaf({ uris: [spiffe], eku: ['clientAuth'], selfSigned: true });
    await assertRejectedBeforeSession(await probe(cert), 'handshake_failed');
  });

  const malformed: readonly { name: string; uris: string[]; eku: string[]; reason: string }[] = [
    { name: 'two URI SANs', uris: [spiffe, 'spiffe://cluster.local/ns/x/sa/y'], eku: ['clientAuth'], reason: 'invalid_san' },
    { name: 'a non-SPIFFE URI SAN', uris: ['https://cluster.local/ns/x/sa/y'], eku: ['clientAuth'], reason: 'invalid_san' },
    { name: 'a SPIFFE SAN with an embedded NUL', uris: [`${spiffe}\u0000.evil.example`], eku: ['clientAuth'], reason: 'invalid_san' },
    { name: 'no extended key usage at all', uris: [spiffe], eku: [], reason: 'missing_eku' },
    // OpenSSL's own purpose check (ssl_client) refuses this chain before our EKU check runs.
    { name: 'serverAuth but no clientAuth EKU', uris: [spiffe], eku: ['serverAuth'], reason: 'handshake_failed' },
  ];
  for (const c of malformed) {
    it(`rejects a mesh-CA certificate with ${c.name} as ${c.reason} (case 5)`, async () => {
      const cert = await forge.leaf({ uris: c.uris, eku: c.eku });
      await assertRejectedBeforeSession(await probe(cert), c.reason);
    });
  }
});

describe('HBONE client refuses a server with the wrong identity', { timeout: suiteTimeoutMs }, () => {
  it('aborts the connection before sending any CONNECT when the server is not the expected identity (case 6)', async () => {
    const err: unknown = await h.pool
      .connect({
        source: mesh.clientCert,
        expectedIdentities: [identity('default', 'someone-else')],
        nextHop: { host: '127.0.0.1', port: h.port },
        authority: h.victimAuthority(),
      })
      .then(() => undefined, (e: unknown) => e);
    assert.ok(isMeshError(err, ErrorCode.HboneConnect), `connect fails with HBONE_CONNECT, got ${String(err)}`);
    assert.equal((err.cause as { reason?: string } | undefined)?.reason, 'identity_mismatch');
    assert.equal(h.pool.sessionCount(), 0, 'no session is pooled');
    assert.equal(h.hbone.stats.streamsTotal, 0, 'the server saw no CONNECT');
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    await h.assertServing();
    await h.assertReleased();
  });
});

describe('HBONE server closes non-HBONE clients and keeps listening', { timeout: suiteTimeoutMs }, () => {
  it('closes plaintext garbage as a failed handshake (case 7)', async () => {
    const result = await tcpProbe(h.port, (s) => s.write(randomBytes(512)), 3000);
    assert.equal(result.closedByServer, true, 'the server closes the connection');
    assert.deepEqual(rejections(), { handshake_failed: 1 });
    assert.equal(h.hbone.stats.sessionsTotal, 0);
    await h.assertServing();
    await h.assertReleased();
  });

  it('closes a plaintext HTTP/1.1 request without an HTTP answer (case 7)', async () => {
    const request = `CONNECT ${h.victimAuthority()} HTTP/1.1\r\nHost: ${h.victimAuthority()}\r\n\r\nattack`;
    const result = await tcpProbe(h.port, (s) => s.write(request), 3000);
    assert.equal(result.closedByServer, true, 'the server closes the connection');
    assert.ok(!result.received.toString('latin1').startsWith('HTTP/'), 'no HTTP/1 response');
    assert.deepEqual(rejections(), { handshake_failed: 1 });
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    await h.assertServing();
    await h.assertReleased();
  });

  it('closes a TLS client that offers no ALPN, counted as alpn (case 7)', async () => {
    await assertRejectedBeforeSession(await probe({ keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem }, []), 'alpn');
  });

  it('refuses a TLS client offering only http/1.1 with no_application_protocol (case 7)', async () => {
    const result = await probe({ keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem }, ['http/1.1']);
    assert.equal(result.secureConnected, false, 'the handshake does not complete');
    assert.equal(result.errorCode, 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
    await assertRejectedBeforeSession(result, 'handshake_failed');
  });
});
