import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { isMeshError } from '../errors.js';
import { CertificateAuthority, clockSkewBackdateMs, defaultLeafTtlMs } from './ca.js';
import { createCsr } from './csr.js';
import { pemDecodeAll } from './der.js';
import { Oid } from './der.js';
import { parseCertificate } from './x509.js';

const td = 'cluster.local';
const id = { trustDomain: td, namespace: 'default', serviceAccount: 'productpage' };
const uri = 'spiffe://cluster.local/ns/default/sa/productpage';

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('CertificateAuthority', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'ambit-ca-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const intermediate of [false, true]) {
    describe(intermediate ? 'with an intermediate' : 'root only', () => {
      it('issues a leaf that openssl verifies for both client and server use', async () => {
        const ca = await CertificateAuthority.create({ trustDomain: td, intermediate });
        const cert = await ca.issue(id);
        const chain = pemDecodeAll(cert.chainPem, 'CERTIFICATE');
        assert.equal(chain.length, intermediate ? 2 : 1);
        const sub = join(dir, intermediate ? 'inter' : 'root');
        rmSync(sub, { recursive: true, force: true });
        execFileSync('mkdir', ['-p', sub]);
        writeFileSync(join(sub, 'root.pem'), ca.rootsPem);
        writeFileSync(join(sub, 'leaf.pem'), new X509Certificate(chain[0]!).toString());
        writeFileSync(join(sub, 'untrusted.pem'), chain.slice(1).map((c) => new X509Certificate(c).toString()).join('') || ca.rootsPem);
        for (const purpose of ['sslclient', 'sslserver']) {
          const out = openssl(['verify', '-CAfile', join(sub, 'root.pem'), '-untrusted', join(sub, 'untrusted.pem'), '-purpose', purpose, join(sub, 'leaf.pem')]);
          assert.match(out, /leaf\.pem: OK/);
        }
        const text = openssl(['x509', '-in', join(sub, 'leaf.pem'), '-noout', '-text']);
        assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage\s/);
        assert.match(text, /X509v3 Extended Key Usage:\s*\n\s*TLS Web Server Authentication, TLS Web Client Authentication/);
        assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
        assert.match(text, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
        assert.match(text, /Subject: *\n/); // empty subject, identity only in the SAN
      });
    });
  }

  it('puts exactly one URI SAN, both EKUs and a 24 h lifetime backdated for clock skew', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12));
    const ca = await CertificateAuthority.create({ trustDomain: td, clock });
    const cert = await ca.issue(id);
    const leaf = parseCertificate(pemDecodeAll(cert.chainPem, 'CERTIFICATE')[0]!);
    assert.deepEqual(leaf.uriSans, [uri]);
    assert.equal(leaf.otherSanCount, 0);
    assert.deepEqual([...leaf.extKeyUsages].sort(), [Oid.serverAuth, Oid.clientAuth].sort());
    assert.equal(leaf.isCa, false);
    assert.equal(leaf.notBeforeMs, clock.nowMs() - clockSkewBackdateMs);
    assert.equal(leaf.notAfterMs, clock.nowMs() + defaultLeafTtlMs);
  });

  it('takes the SAN from the authenticated identity and refuses a CSR naming another', async () => {
    const ca = await CertificateAuthority.create({ trustDomain: td });
    const other = { trustDomain: td, namespace: 'default', serviceAccount: 'reviews' };
    const { csrPem } = await createCsr(other);
    await assert.rejects(ca.sign(csrPem, id), (err) => isMeshError(err, 'IDENTITY_MISMATCH'));
  });

  it('refuses to sign for another trust domain', async () => {
    const ca = await CertificateAuthority.create({ trustDomain: td });
    const foreign = { trustDomain: 'other.local', namespace: 'default', serviceAccount: 'x' };
    const { csrPem } = await createCsr(foreign);
    await assert.rejects(ca.sign(csrPem, foreign), (err) => isMeshError(err, 'TRUST_DOMAIN_MISMATCH'));
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const ca = await CertificateAuthority.create({ trustDomain: td });
    const { csrPem } = await createCsr(id);
    const der = pemDecodeAll(csrPem, 'CERTIFICATE REQUEST')[0]!;
    der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // flip bits inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await assert.rejects(ca.sign(tampered, id), (err) => isMeshError(err, 'INVALID_CSR'));
    await assert.rejects(ca.sign('not a csr', id), (err) => isMeshError(err, 'INVALID_CSR'));
  });

  it('signs a CSR made by openssl (RSA) as well as its own', async () => {
    const ca = await CertificateAuthority.create({ trustDomain: td });
    const key = join(dir, 'rsa.key');
    const csr = openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/O=ignored', '-outform', 'PEM']);
    const signed = await ca.sign(csr, id);
    const leaf = parseCertificate(pemDecodeAll(signed.chainPem, 'CERTIFICATE')[0]!);
    assert.deepEqual(leaf.uriSans, [uri]);
  });

  it('caps a requested lifetime at 90 days', async () => {
    const clock = new ManualClock();
    const ca = await CertificateAuthority.create({ trustDomain: td, clock });
    const cert = await ca.issue(id, { ttlMs: 365 * 86_400_000 });
    assert.equal(cert.notAfterMs - clock.nowMs(), 90 * 86_400_000);
  });

  it('saves to and loads from a directory, and the loaded CA issues under the same root', async () => {
    const ca = await CertificateAuthority.create({ trustDomain: td, intermediate: true });
    const caDir = join(dir, 'saved');
    await ca.saveToDir(caDir);
    const loaded = await CertificateAuthority.loadFromDir(caDir, td);
    assert.equal(loaded.rootsPem, ca.rootsPem);
    const cert = await loaded.issue(id);
    const [leafDer, interDer] = pemDecodeAll(cert.chainPem, 'CERTIFICATE');
    const root = new X509Certificate(pemDecodeAll(ca.rootsPem, 'CERTIFICATE')[0]!);
    const inter = new X509Certificate(interDer!);
    assert.ok(new X509Certificate(leafDer!).verify(inter.publicKey));
    assert.ok(inter.verify(root.publicKey));
  });

  it('loads a root made by openssl (RSA) and signs ECDSA leaves with it', async () => {
    const key = join(dir, 'ossl-ca.key');
    const crt = join(dir, 'ossl-ca.crt');
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '30', '-subj', '/O=cluster.local/CN=ossl root',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    const { readFileSync } = await import('node:fs');
    const pem = readFileSync(crt, 'utf8');
    const ca = CertificateAuthority.load({ trustDomain: td, keyPem: readFileSync(key, 'utf8'), certChainPem: pem, rootsPem: pem });
    const cert = await ca.issue(id);
    writeFileSync(join(dir, 'ossl-leaf.pem'), cert.chainPem);
    assert.match(openssl(['verify', '-CAfile', crt, join(dir, 'ossl-leaf.pem')]), /OK/);
  });

  it('refuses to load a key that does not match, or a non-CA certificate', async () => {
    const a = await CertificateAuthority.create({ trustDomain: td });
    const b = await CertificateAuthority.create({ trustDomain: td });
    const aDir = join(dir, 'a');
    const bDir = join(dir, 'b');
    await a.saveToDir(aDir);
    await b.saveToDir(bDir);
    const { readFileSync } = await import('node:fs');
    assert.throws(
      () => CertificateAuthority.load({ trustDomain: td, keyPem: readFileSync(join(bDir, 'ca-key.pem'), 'utf8'), certChainPem: a.rootsPem, rootsPem: a.rootsPem }),
      (err) => isMeshError(err, 'CA_LOAD'),
    );
    const leaf = await a.issue(id);
    assert.throws(
      () => CertificateAuthority.load({ trustDomain: td, keyPem: leaf.keyPem, certChainPem: leaf.chainPem, rootsPem: a.rootsPem }),
      (err) => isMeshError(err, 'CA_LOAD') && /not a CA/.test(err.message),
    );
  });
});
