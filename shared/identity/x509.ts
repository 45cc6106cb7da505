// Reads the fields Ambit decides on (URI SANs, EKU, validity, CA flag) from a certificate's DER.
// Never from Node's `subjectaltname` string, whose escaping has been exploitable (CVE-2021-44532).
import forge from 'node-forge';
import { ErrorCode, MeshError } from '../errors.js';
import { der, Oid, type Asn1 } from './der.js';

const asn1 = forge.asn1;

export interface ParsedCertificate {
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** URI SANs, in order; `otherSanCount` counts every non-URI SAN entry. */
  readonly uriSans: readonly string[];
  readonly otherSanCount: number;
  readonly extKeyUsages: readonly string[];
  readonly isCa: boolean;
  readonly subjectDer: Buffer;
  readonly spkiDer: Buffer;
  readonly subjectKeyId?: Buffer;
}

const children = (node: Asn1 | undefined, what: string): Asn1[] => {
  if (!node || !Array.isArray(node.value)) throw new Error(`${what} is not a constructed ASN.1 value`);
  return node.value;
};
const bytes = (node: Asn1 | undefined): string => {
  if (!node || typeof node.value !== 'string') throw new Error('expected a primitive ASN.1 value');
  return node.value;
};

function parseTime(node: Asn1 | undefined): number {
  if (node?.type === asn1.Type.UTCTIME) return asn1.utcTimeToDate(bytes(node)).getTime();
  if (node?.type === asn1.Type.GENERALIZEDTIME) return asn1.generalizedTimeToDate(bytes(node)).getTime();
  throw new Error('validity time is neither UTCTime nor GeneralizedTime');
}

/** Parses a DER certificate. Throws MeshError(INVALID_CERTIFICATE) on anything malformed. */
export function parseCertificate(certDer: Buffer): ParsedCertificate {
  try {
    return parseUnchecked(certDer);
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw new MeshError(ErrorCode.InvalidCertificate, `malformed certificate: ${(err as Error).message}`, { cause: err });
  }
}

function parseUnchecked(certDer: Buffer): ParsedCertificate {
  const cert = children(der.decode(certDer), 'certificate');
  const tbs = children(cert[0], 'tbsCertificate');
  let i = 0;
  if (tbs[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC && tbs[0].type === 0) i = 1; // [0] version
  const serialHex = Buffer.from(bytes(tbs[i]), 'binary').toString('hex');
  const subjectNode = tbs[i + 4];
  const validity = children(tbs[i + 3], 'validity');
  const spkiNode = tbs[i + 5];
  if (!subjectNode || !spkiNode) throw new Error('tbsCertificate is truncated');
  const result = {
    serialHex,
    notBeforeMs: parseTime(validity[0]),
    notAfterMs: parseTime(validity[1]),
    uriSans: [] as string[],
    otherSanCount: 0,
    extKeyUsages: [] as string[],
    isCa: false,
    subjectDer: der.encode(subjectNode),
    spkiDer: der.encode(spkiNode),
    subjectKeyId: undefined as Buffer | undefined,
  };
  const extWrapper = tbs.slice(i + 6).find((n) => n.tagClass === asn1.Class.CONTEXT_SPECIFIC && n.type === 3);
  if (!extWrapper) return result;
  const seen = new Set<string>();
  for (const ext of children(children(extWrapper, 'extensions')[0], 'extensions')) {
    const parts = children(ext, 'extension');
    const oid = asn1.derToOid(bytes(parts[0]));
    if (seen.has(oid)) throw new Error(`duplicate extension ${oid}`); // RFC 5280 §4.2
    seen.add(oid);
    const valueNode = parts[parts.length - 1];
    const value = () => der.decode(Buffer.from(bytes(valueNode), 'binary'));
    if (oid === Oid.subjectAltName) {
      for (const name of children(value(), 'subjectAltName')) {
        if (name.tagClass === asn1.Class.CONTEXT_SPECIFIC && name.type === 6 && !name.constructed) {
          result.uriSans.push(bytes(name));
        } else {
          result.otherSanCount++;
        }
      }
    } else if (oid === Oid.extKeyUsage) {
      for (const usage of children(value(), 'extKeyUsage')) result.extKeyUsages.push(asn1.derToOid(bytes(usage)));
    } else if (oid === Oid.basicConstraints) {
      const first = children(value(), 'basicConstraints')[0];
      result.isCa = first?.type === asn1.Type.BOOLEAN && bytes(first) !== '\x00';
    } else if (oid === Oid.subjectKeyIdentifier) {
      result.subjectKeyId = Buffer.from(bytes(value()), 'binary');
    }
  }
  return result;
}
