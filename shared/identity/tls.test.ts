import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { der, extension, Oid, signStructure, spkiOf, type Asn1 } from './der.js';
import { checkPeerCertificate, PeerRejection, serverIdentityChecker } from './tls.js';
import type { PeerCertificate } from 'node:tls';

const td = 'cluster.local';
const server = { trustDomain: td, namespace: 'default', serviceAccount: 'server' };

/** A certificate with exactly the SAN entries and EKUs given (the chain is not the point here). */
async function leaf(opts: { sans: Asn1[]; ekus?: string[] }): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const exts = [extension(Oid.subjectAltName, true, der.seq(opts.sans))];
  if (opts.ekus) exts.push(extension(Oid.extKeyUsage, false, der.seq(opts.ekus.map((o) => der.oid(o)))));
  const now = Date.now();
  const tbs = der.seq([
    der.explicit(0, der.int(2)), der.int(7), der.seq([der.oid(Oid.ecdsaWithSha256)]), der.seq([]),
    der.seq([der.time(new Date(now - 60_000)), der.time(new Date(now + 3_600_000))]), der.seq([]),
    der.decode(spkiOf(privateKey)), der.explicit(3, der.seq(exts)),
  ]);
  return signStructure(tbs, privateKey);
}
const uri = (s: string) => der.implicitPrimitive(6, s);
const dns = (s: string) => der.implicitPrimitive(2, s);
const both = [Oid.serverAuth, Oid.clientAuth];

describe('checkPeerCertificate', () => {
  it('accepts a client in our trust domain and returns its identity', async () => {
    const check = checkPeerCertificate(await leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b')], ekus: both }), { role: 'client', trustDomain: td });
    assert.deepEqual(check, { ok: true, identity: { trustDomain: td, namespace: 'a', serviceAccount: 'b' } });
  });

  const cases: [string, () => Promise<Buffer | undefined>, PeerRejection][] = [
    ['no certificate', async () => undefined, PeerRejection.NoCertificate],
    ['garbage bytes', async () => Buffer.from('not a certificate'), PeerRejection.InvalidCertificate],
    ['two URI SANs', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b'), uri('spiffe://cluster.local/ns/a/sa/c')], ekus: both }), PeerRejection.InvalidSan],
    ['a URI plus a DNS SAN', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b'), dns('b.a.svc')], ekus: both }), PeerRejection.InvalidSan],
    ['a non-SPIFFE URI', () => leaf({ sans: [uri('https://cluster.local/ns/a/sa/b')], ekus: both }), PeerRejection.InvalidSan],
    ['a SAN with an embedded NUL', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b\u0000.evil')], ekus: both }), PeerRejection.InvalidSan],
    ['a percent-encoded SAN', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a%2Fsa/sa/b')], ekus: both }), PeerRejection.InvalidSan],
    ['no clientAuth EKU', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b')], ekus: [Oid.serverAuth] }), PeerRejection.MissingEku],
    ['no EKU at all', () => leaf({ sans: [uri('spiffe://cluster.local/ns/a/sa/b')] }), PeerRejection.MissingEku],
    ['another trust domain', () => leaf({ sans: [uri('spiffe://other.local/ns/a/sa/b')], ekus: both }), PeerRejection.TrustDomainMismatch],
  ];
  for (const [name, make, reason] of cases) {
    it(`rejects a client with ${name} (${reason})`, async () => {
      const check = checkPeerCertificate(await make(), { role: 'client', trustDomain: td });
      assert.equal(check.ok, false);
      assert.equal(!check.ok && check.reason, reason);
    });
  }

  it('accepts a server only when its identity is one of those expected', async () => {
    const cert = await leaf({ sans: [uri('spiffe://cluster.local/ns/default/sa/server')], ekus: both });
    assert.equal(checkPeerCertificate(cert, { role: 'server', identities: [server] }).ok, true);
    const wrong = checkPeerCertificate(cert, { role: 'server', identities: [{ ...server, serviceAccount: 'other' }] });
    assert.equal(!wrong.ok && wrong.reason, PeerRejection.IdentityMismatch);
  });

  it('requires serverAuth from a server', async () => {
    const cert = await leaf({ sans: [uri('spiffe://cluster.local/ns/default/sa/server')], ekus: [Oid.clientAuth] });
    const check = checkPeerCertificate(cert, { role: 'server', identities: [server] });
    assert.equal(!check.ok && check.reason, PeerRejection.MissingEku);
  });

  it('gives Node an Error naming the reason when the server is not who we expect', async () => {
    const raw = await leaf({ sans: [uri('spiffe://cluster.local/ns/default/sa/imposter')], ekus: both });
    const rejected: string[] = [];
    const check = serverIdentityChecker([server], (c) => rejected.push(c.reason));
    const err = check('127.0.0.1', { raw } as PeerCertificate);
    assert.ok(err instanceof Error);
    assert.match(err.message, /identity_mismatch/);
    assert.deepEqual(rejected, ['identity_mismatch']);
    assert.equal(serverIdentityChecker([{ ...server, serviceAccount: 'imposter' }])('127.0.0.1', { raw } as PeerCertificate), undefined);
  });
});
