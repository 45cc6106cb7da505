// WorkloadCertificate: one identity's key, leaf chain and trust bundle, as proxies hold it.
// Built only through toWorkloadCertificate, which checks the leaf really carries the identity.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { ErrorCode, MeshError } from '../errors.js';
import { pemDecodeAll, pemEncode } from './der.js';
import { formatIdentity, type Identity } from './spiffe.js';
import { parseCertificate } from './x509.js';

export interface WorkloadCertificate {
  readonly identity: Identity;
  readonly keyPem: string;
  /** Leaf first, then intermediates (root excluded), PEM. */
  readonly chainPem: string;
  /** The trust bundle: every root this identity's peers may chain to, PEM. */
  readonly rootsPem: string;
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
}

export function toWorkloadCertificate(identity: Identity, keyPem: string, chainPem: string, rootsPem: string): WorkloadCertificate {
  const chain = pemDecodeAll(chainPem, 'CERTIFICATE');
  const leafDer = chain[0];
  if (!leafDer) throw new MeshError(ErrorCode.InvalidCertificate, 'certificate chain is empty');
  if (pemDecodeAll(rootsPem, 'CERTIFICATE').length === 0) throw new MeshError(ErrorCode.InvalidCertificate, 'trust bundle is empty');
  const leaf = parseCertificate(leafDer);
  const expected = formatIdentity(identity);
  if (leaf.uriSans.length !== 1 || leaf.uriSans[0] !== expected) {
    throw new MeshError(ErrorCode.IdentityMismatch, `leaf carries ${JSON.stringify(leaf.uriSans)}, expected ${expected}`);
  }
  const x509 = new X509Certificate(leafDer);
  if (!x509.checkPrivateKey(createKey(keyPem))) {
    throw new MeshError(ErrorCode.InvalidCertificate, `private key does not match the leaf for ${expected}`);
  }
  return {
    identity,
    keyPem,
    chainPem: chain.map((c) => pemEncode('CERTIFICATE', c)).join(''),
    rootsPem,
    serialHex: leaf.serialHex,
    notBeforeMs: leaf.notBeforeMs,
    notAfterMs: leaf.notAfterMs,
  };
}

function createKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new MeshError(ErrorCode.InvalidCertificate, 'private key is not valid PEM', { cause: err });
  }
}
