// DER building blocks for certificates and CSRs, on node-forge's ASN.1 codec. node-forge's own
// X.509 layer handles RSA keys only; Ambit's workload keys are ECDSA P-256 (as ztunnel's), so
// structures are assembled here and signatures come from Node's native crypto.
import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

const asn1 = forge.asn1;
export type Asn1 = forge.asn1.Asn1;

export const Oid = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
} as const;

const U = asn1.Class.UNIVERSAL;
const T = asn1.Type;

export const der = {
  seq: (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items),
  set: (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items),
  oid: (oid: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(oid).getBytes()),
  bool: (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00'),
  null: (): Asn1 => asn1.create(U, T.NULL, false, ''),
  int: (n: number): Asn1 => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes()),
  /** A positive INTEGER from big-endian bytes (a leading zero is added when the top bit is set). */
  intBytes: (bytes: Buffer): Asn1 => {
    let b = bytes;
    while (b.length > 1 && b[0] === 0 && (b[1]! & 0x80) === 0) b = b.subarray(1);
    if ((b[0]! & 0x80) !== 0) b = Buffer.concat([Buffer.from([0]), b]);
    return asn1.create(U, T.INTEGER, false, b.toString('binary'));
  },
  octets: (bytes: Buffer): Asn1 => asn1.create(U, T.OCTETSTRING, false, bytes.toString('binary')),
  bits: (bytes: Buffer, unusedBits = 0): Asn1 =>
    asn1.create(U, T.BITSTRING, false, String.fromCharCode(unusedBits) + bytes.toString('binary')),
  utf8: (s: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s)),
  /** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
  time: (d: Date): Asn1 =>
    d.getUTCFullYear() < 2050
      ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(d))
      : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(d)),
  explicit: (tag: number, inner: Asn1): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, [inner]),
  implicitPrimitive: (tag: number, value: string): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, false, value),
  implicitConstructed: (tag: number, items: Asn1[]): Asn1 => asn1.create(asn1.Class.CONTEXT_SPECIFIC, tag, true, items),
  encode: (node: Asn1): Buffer => Buffer.from(asn1.toDer(node).getBytes(), 'binary'),
  decode: (bytes: Buffer): Asn1 =>
    // node-forge accepts an options object here; its type definitions only know the old boolean.
    (asn1.fromDer as unknown as (b: string, o: object) => Asn1)(bytes.toString('binary'), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
    }),
};

export function nameFromParts(parts: { organization?: string; commonName?: string }): Asn1 {
  const rdns: Asn1[] = [];
  if (parts.organization) rdns.push(der.set([der.seq([der.oid(Oid.organization), der.utf8(parts.organization)])]));
  if (parts.commonName) rdns.push(der.set([der.seq([der.oid(Oid.commonName), der.utf8(parts.commonName)])]));
  return der.seq(rdns);
}

export function extension(oid: string, critical: boolean, value: Asn1): Asn1 {
  const items = [der.oid(oid)];
  if (critical) items.push(der.bool(true));
  items.push(der.octets(der.encode(value)));
  return der.seq(items);
}

/** The AlgorithmIdentifier matching a signing key (SHA-256 in both cases). */
export function signatureAlgorithm(key: KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return der.seq([der.oid(Oid.ecdsaWithSha256)]);
    case 'rsa':
      return der.seq([der.oid(Oid.sha256WithRsa), der.null()]);
    default:
      throw new Error(`unsupported CA key type ${String(key.asymmetricKeyType)}: use EC or RSA`);
  }
}

/** Signs `toBeSigned` and wraps it as {tbs, algorithm, BIT STRING signature} (X.509 and PKCS#10 alike). */
export async function signStructure(toBeSigned: Asn1, key: KeyObject): Promise<Buffer> {
  const algorithm = signatureAlgorithm(key);
  const tbsDer = der.encode(toBeSigned);
  // The callback form runs on libuv's threadpool, off the event loop.
  const signature = await new Promise<Buffer>((resolve, reject) =>
    cryptoSign('sha256', tbsDer, key, (err, sig) => (err ? reject(err) : resolve(sig))),
  );
  return der.encode(der.seq([toBeSigned, algorithm, der.bits(signature)]));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const spki = der.decode(spkiDer);
  const bitString = (spki.value as Asn1[])[1]!;
  const keyBits = Buffer.from((bitString.value as string).slice(1), 'binary');
  return createHash('sha1').update(keyBits).digest();
}

export function spkiOf(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ type: 'spki', format: 'der' });
}

export function pemEncode(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block of `label` in `text`, decoded. */
export function pemDecodeAll(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}
