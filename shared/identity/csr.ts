// Workload keys and PKCS#10 CSRs: an ECDSA P-256 key from Node's native crypto (async, on the
// threadpool) and a CSR whose only content is the SPIFFE URI SAN, as ztunnel's.
import { createPrivateKey, createPublicKey, generateKeyPair, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { ErrorCode, MeshError } from '../errors.js';
import { der, extension, Oid, pemDecodeAll, pemEncode, signStructure, spkiOf, type Asn1 } from './der.js';
import { formatIdentity, type Identity } from './spiffe.js';

const asn1 = forge.asn1;

export interface KeyAndCsr {
  readonly keyPem: string;
  readonly csrPem: string;
}

export function generateWorkloadKey(): Promise<KeyObject> {
  return new Promise((resolve, reject) =>
    generateKeyPair('ec', { namedCurve: 'prime256v1' }, (err, _pub, priv) => (err ? reject(err) : resolve(priv))),
  );
}

export function uriSanExtension(uri: string): Asn1 {
  // Critical because the subject is empty (RFC 5280 §4.2.1.6).
  return extension(Oid.subjectAltName, true, der.seq([der.implicitPrimitive(6, uri)]));
}

export async function createCsr(identity: Identity, key?: KeyObject): Promise<KeyAndCsr> {
  const privateKey = key ?? (await generateWorkloadKey());
  const info = der.seq([
    der.int(0),
    der.seq([]), // empty subject
    der.decode(spkiOf(privateKey)),
    der.implicitConstructed(0, [der.seq([der.oid(Oid.extensionRequest), der.set([der.seq([uriSanExtension(formatIdentity(identity))])])])]),
  ]);
  const csrDer = await signStructure(info, privateKey);
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    csrPem: pemEncode('CERTIFICATE REQUEST', csrDer),
  };
}

export interface ParsedCsr {
  readonly publicKey: KeyObject;
  readonly spkiDer: Buffer;
  readonly uriSans: readonly string[];
}

/** Parses a PEM CSR and verifies its self-signature. Throws MeshError(INVALID_CSR). */
export function parseCsr(csrPem: string): ParsedCsr {
  try {
    const blocks = pemDecodeAll(csrPem, 'CERTIFICATE REQUEST');
    if (blocks.length !== 1) throw new Error(`expected one CERTIFICATE REQUEST block, found ${blocks.length}`);
    const root = der.decode(blocks[0]!);
    const [info, , sigNode] = root.value as Asn1[];
    if (!info || !sigNode || typeof sigNode.value !== 'string') throw new Error('truncated CSR');
    const fields = info.value as Asn1[];
    const spkiDer = der.encode(fields[2]!);
    const publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
    const signature = Buffer.from(sigNode.value.slice(1), 'binary');
    if (!cryptoVerify('sha256', der.encode(info), publicKey, signature)) throw new Error('CSR signature does not verify');
    const uriSans: string[] = [];
    const attributes = fields[3];
    for (const attr of Array.isArray(attributes?.value) ? attributes.value : []) {
      const [type, values] = attr.value as Asn1[];
      if (asn1.derToOid(type!.value as string) !== Oid.extensionRequest) continue;
      for (const ext of ((values!.value as Asn1[])[0]!.value as Asn1[])) {
        const parts = ext.value as Asn1[];
        if (asn1.derToOid(parts[0]!.value as string) !== Oid.subjectAltName) continue;
        const names = der.decode(Buffer.from(parts[parts.length - 1]!.value as string, 'binary'));
        for (const name of names.value as Asn1[]) {
          if (name.tagClass === asn1.Class.CONTEXT_SPECIFIC && name.type === 6) uriSans.push(name.value as string);
        }
      }
    }
    return { publicKey, spkiDer, uriSans };
  } catch (err) {
    throw new MeshError(ErrorCode.InvalidCsr, `invalid CSR: ${(err as Error).message}`, { cause: err });
  }
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem);
}
