// CertificateAuthority: the mesh CA. Creates a root (optionally with an intermediate) or loads
// one from PEM, and signs workload CSRs into leaves with exactly one SPIFFE URI SAN, both
// serverAuth and clientAuth, 24 h by default, backdated a little for clock skew.
import { createPrivateKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { ErrorCode, MeshError } from '../errors.js';
import { createCsr, generateWorkloadKey, parseCsr, uriSanExtension } from './csr.js';
import { der, extension, keyIdentifier, nameFromParts, Oid, pemDecodeAll, pemEncode, signatureAlgorithm, signStructure, spkiOf, type Asn1 } from './der.js';
import { formatIdentity, type Identity } from './spiffe.js';
import { toWorkloadCertificate, type WorkloadCertificate } from './workload-certificate.js';
import { parseCertificate } from './x509.js';

export const defaultLeafTtlMs = 24 * 3600_000;
export const maxLeafTtlMs = 90 * 24 * 3600_000; // istiod's MAX_WORKLOAD_CERT_TTL
export const clockSkewBackdateMs = 5 * 60_000;
const defaultRootTtlMs = 10 * 365 * 24 * 3600_000;

export interface SignedLeaf {
  /** Leaf first, then intermediates, PEM. */
  readonly chainPem: string;
  readonly rootsPem: string;
}

interface Issuer {
  readonly key: KeyObject;
  readonly subjectDer: Buffer;
  readonly keyId: Buffer;
}

export interface CreateCaOptions {
  readonly trustDomain: string;
  readonly intermediate?: boolean;
  readonly clock?: Clock;
  readonly rootTtlMs?: number;
}

export interface LoadCaOptions {
  readonly trustDomain: string;
  /** The signing certificate's key. */
  readonly keyPem: string;
  /** The signing certificate first, then its issuers up to (but excluding) the root. */
  readonly certChainPem: string;
  /** Roots of trust; the signing chain must end at one of them. */
  readonly rootsPem: string;
  readonly clock?: Clock;
}

export class CertificateAuthority {
  readonly trustDomain: string;
  readonly rootsPem: string;
  /** The CA's own certificate chain (signing cert first), appended to each leaf. */
  private readonly caChainPem: string;
  private readonly issuer: Issuer;
  private readonly clock: Clock;

  private constructor(trustDomain: string, issuer: Issuer, caChainPem: string, rootsPem: string, clock: Clock) {
    this.trustDomain = trustDomain;
    this.issuer = issuer;
    this.caChainPem = caChainPem;
    this.rootsPem = rootsPem;
    this.clock = clock;
  }

  static async create(opts: CreateCaOptions): Promise<CertificateAuthority> {
    const clock = opts.clock ?? systemClock;
    const ttlMs = opts.rootTtlMs ?? defaultRootTtlMs;
    formatIdentity({ trustDomain: opts.trustDomain, namespace: 'x', serviceAccount: 'x' }); // validates td
    const rootKey = await generateWorkloadKey();
    const rootSubject = nameFromParts({ organization: opts.trustDomain, commonName: 'Ambit Root CA' });
    const rootSpki = spkiOf(rootKey);
    const rootIssuer: Issuer = { key: rootKey, subjectDer: der.encode(rootSubject), keyId: keyIdentifier(rootSpki) };
    const rootDer = await issueCaCert(rootIssuer, rootSubject, rootSpki, clock.nowMs(), ttlMs, undefined);
    const rootPem = pemEncode('CERTIFICATE', rootDer);
    if (!opts.intermediate) return new CertificateAuthority(opts.trustDomain, rootIssuer, '', rootPem, clock);

    const interKey = await generateWorkloadKey();
    const interSubject = nameFromParts({ organization: opts.trustDomain, commonName: 'Ambit Intermediate CA' });
    const interSpki = spkiOf(interKey);
    const interDer = await issueCaCert(rootIssuer, interSubject, interSpki, clock.nowMs(), ttlMs / 2, 0);
    const interIssuer: Issuer = { key: interKey, subjectDer: der.encode(interSubject), keyId: keyIdentifier(interSpki) };
    return new CertificateAuthority(opts.trustDomain, interIssuer, pemEncode('CERTIFICATE', interDer), rootPem, clock);
  }

  static load(opts: LoadCaOptions): CertificateAuthority {
    const fail = (msg: string, cause?: unknown): never => {
      throw new MeshError(ErrorCode.CaLoad, `cannot load CA: ${msg}`, { cause });
    };
    let key: KeyObject;
    try {
      key = createPrivateKey(opts.keyPem);
    } catch (err) {
      return fail('key is not a valid PEM private key', err);
    }
    const chain = pemDecodeAll(opts.certChainPem, 'CERTIFICATE');
    const roots = pemDecodeAll(opts.rootsPem, 'CERTIFICATE');
    if (chain.length === 0) fail('certificate chain has no CERTIFICATE block');
    if (roots.length === 0) fail('roots have no CERTIFICATE block');
    const signing = new X509Certificate(chain[0]!);
    if (!signing.checkPrivateKey(key)) fail('key does not match the signing certificate');
    if (!signing.ca) fail('signing certificate is not a CA (basicConstraints CA:TRUE)');
    // The chain must link up to a root: each certificate issued by the next, the last by a root.
    const all = [...chain.map((c) => new X509Certificate(c))];
    for (let i = 0; i + 1 < all.length; i++) {
      if (!all[i]!.verify(all[i + 1]!.publicKey)) fail(`chain certificate ${i} is not signed by certificate ${i + 1}`);
    }
    const rootCerts = roots.map((r) => new X509Certificate(r));
    const top = all[all.length - 1]!;
    const anchored = rootCerts.some((r) => r.raw.equals(top.raw) || top.verify(r.publicKey));
    if (!anchored) fail('signing chain does not end at one of the roots');
    const parsed = parseCertificate(chain[0]!);
    const issuer: Issuer = { key, subjectDer: parsed.subjectDer, keyId: parsed.subjectKeyId ?? keyIdentifier(parsed.spkiDer) };
    // A self-signed signing cert is itself the root: do not append it to leaf chains.
    const chainPem = chain
      .filter((c) => !roots.some((r) => r.equals(c)))
      .map((c) => pemEncode('CERTIFICATE', c))
      .join('');
    return new CertificateAuthority(opts.trustDomain, issuer, chainPem, roots.map((r) => pemEncode('CERTIFICATE', r)).join(''), opts.clock ?? systemClock);
  }

  static async loadFromDir(dir: string, trustDomain: string, clock?: Clock): Promise<CertificateAuthority> {
    const read = (f: string) => readFile(join(dir, f), 'utf8');
    const [keyPem, certChainPem, rootsPem] = await Promise.all([read('ca-key.pem'), read('ca-cert.pem'), read('root-cert.pem')]);
    return CertificateAuthority.load({ trustDomain, keyPem, certChainPem, rootsPem, ...(clock ? { clock } : {}) });
  }

  /** Writes ca-key.pem (0600), ca-cert.pem (signing chain) and root-cert.pem; loadFromDir reads them. */
  async saveToDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const signingPem = this.caChainPem || this.rootsPem;
    await writeFile(join(dir, 'ca-key.pem'), this.issuer.key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
    await writeFile(join(dir, 'ca-cert.pem'), signingPem);
    await writeFile(join(dir, 'root-cert.pem'), this.rootsPem);
  }

  /**
   * Signs a CSR for `identity` (already authenticated by the caller). The leaf's SAN comes from
   * `identity`, never from the CSR; a CSR that names a different identity is refused.
   */
  async sign(csrPem: string, identity: Identity, opts: { ttlMs?: number } = {}): Promise<SignedLeaf> {
    const uri = formatIdentity(identity);
    if (identity.trustDomain !== this.trustDomain) {
      throw new MeshError(ErrorCode.TrustDomainMismatch, `CA for ${this.trustDomain} cannot sign ${uri}`);
    }
    const csr = parseCsr(csrPem);
    if (csr.uriSans.length > 0 && (csr.uriSans.length !== 1 || csr.uriSans[0] !== uri)) {
      throw new MeshError(ErrorCode.IdentityMismatch, `CSR asks for ${JSON.stringify(csr.uriSans)}, caller is ${uri}`);
    }
    const requested = opts.ttlMs && opts.ttlMs > 0 ? opts.ttlMs : defaultLeafTtlMs;
    const ttlMs = Math.min(requested, maxLeafTtlMs);
    const now = this.clock.nowMs();
    const tbs = der.seq([
      der.explicit(0, der.int(2)),
      der.intBytes(serialNumber()),
      signatureAlgorithm(this.issuer.key),
      der.decode(this.issuer.subjectDer),
      der.seq([der.time(new Date(now - clockSkewBackdateMs)), der.time(new Date(now + ttlMs))]),
      der.seq([]),
      der.decode(csr.spkiDer),
      der.explicit(3, der.seq([
        extension(Oid.basicConstraints, true, der.seq([])),
        extension(Oid.keyUsage, true, keyUsageBits({ digitalSignature: true, keyEncipherment: true })),
        extension(Oid.extKeyUsage, false, der.seq([der.oid(Oid.serverAuth), der.oid(Oid.clientAuth)])),
        extension(Oid.authorityKeyIdentifier, false, der.seq([der.implicitPrimitive(0, this.issuer.keyId.toString('binary'))])),
        uriSanExtension(uri),
      ])),
    ]);
    const leafDer = await signStructure(tbs, this.issuer.key);
    return { chainPem: pemEncode('CERTIFICATE', leafDer) + this.caChainPem, rootsPem: this.rootsPem };
  }

  /** Key + CSR + signature in one step, for local (file-mode) proxies and tests. */
  async issue(identity: Identity, opts: { ttlMs?: number } = {}): Promise<WorkloadCertificate> {
    const { keyPem, csrPem } = await createCsr(identity);
    const signed = await this.sign(csrPem, identity, opts);
    return toWorkloadCertificate(identity, keyPem, signed.chainPem, signed.rootsPem);
  }
}

/** 128 random bits, top bit cleared so the INTEGER stays positive and ≤ 20 octets (RFC 5280 §4.1.2.2). */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

/** KeyUsage BIT STRING (RFC 5280 §4.2.1.3), DER: trailing zero bits are not encoded. */
function keyUsageBits(u: { digitalSignature?: boolean; keyEncipherment?: boolean; keyCertSign?: boolean; crlSign?: boolean }): Asn1 {
  let byte = 0;
  if (u.digitalSignature) byte |= 0x80; // bit 0
  if (u.keyEncipherment) byte |= 0x20; // bit 2
  if (u.keyCertSign) byte |= 0x04; // bit 5
  if (u.crlSign) byte |= 0x02; // bit 6
  let unused = 0;
  while (unused < 7 && ((byte >> unused) & 1) === 0) unused++;
  return der.bits(Buffer.from([byte]), unused);
}

async function issueCaCert(issuer: Issuer, subject: Asn1, spkiDer: Buffer, nowMs: number, ttlMs: number, pathLen: number | undefined): Promise<Buffer> {
  const constraints = pathLen === undefined ? [der.bool(true)] : [der.bool(true), der.int(pathLen)];
  const tbs = der.seq([
    der.explicit(0, der.int(2)),
    der.intBytes(serialNumber()),
    signatureAlgorithm(issuer.key),
    der.decode(issuer.subjectDer),
    der.seq([der.time(new Date(nowMs - clockSkewBackdateMs)), der.time(new Date(nowMs + ttlMs))]),
    subject,
    der.decode(spkiDer),
    der.explicit(3, der.seq([
      extension(Oid.basicConstraints, true, der.seq(constraints)),
      extension(Oid.keyUsage, true, keyUsageBits({ digitalSignature: true, keyCertSign: true, crlSign: true })),
      extension(Oid.subjectKeyIdentifier, false, der.octets(keyIdentifier(spkiDer))),
      extension(Oid.authorityKeyIdentifier, false, der.seq([der.implicitPrimitive(0, issuer.keyId.toString('binary'))])),
    ])),
  ]);
  return signStructure(tbs, issuer.key);
}

