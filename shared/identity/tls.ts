// TLS for HBONE (15008): TLS 1.3 only, ALPN h2, no SNI, no resumption; SPIFFE checks on the
// parsed peer certificate in both directions, since Node's hostname check ignores URI SANs.
import { constants as cryptoConstants } from 'node:crypto';
import { createSecureContext, type PeerCertificate, type SecureContext, type SecureContextOptions } from 'node:tls';
import { formatIdentity, parseIdentity, type Identity } from './spiffe.js';
import type { WorkloadCertificate } from './workload-certificate.js';
import { Oid } from './der.js';
import { parseCertificate } from './x509.js';

export const hboneAlpn = 'h2';
/** rustls' TLS 1.3 suites in ztunnel, AES-GCM only. */
export const hboneCipherSuites = 'TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';

export const PeerRejection = {
  NoCertificate: 'no_certificate',
  InvalidCertificate: 'invalid_certificate',
  InvalidSan: 'invalid_san',
  MissingEku: 'missing_eku',
  TrustDomainMismatch: 'trust_domain_mismatch',
  IdentityMismatch: 'identity_mismatch',
} as const;
export type PeerRejection = (typeof PeerRejection)[keyof typeof PeerRejection];

export type PeerCheck = { ok: true; identity: Identity } | { ok: false; reason: PeerRejection; detail: string };

/** What a peer must be: a client in our trust domain, or a server holding one of the expected identities. */
export type PeerExpectation =
  | { readonly role: 'client'; readonly trustDomain: string }
  | { readonly role: 'server'; readonly identities: readonly Identity[] };

/**
 * Checks a peer leaf (DER) whose chain TLS already verified: exactly one SAN, a URI that is a
 * strict SPIFFE ID, the right EKU, then the trust domain (client) or the expected set (server).
 */
export function checkPeerCertificate(leafDer: Buffer | undefined, expect: PeerExpectation): PeerCheck {
  if (!leafDer || leafDer.length === 0) return { ok: false, reason: PeerRejection.NoCertificate, detail: 'peer sent no certificate' };
  let parsed;
  try {
    parsed = parseCertificate(leafDer);
  } catch (err) {
    return { ok: false, reason: PeerRejection.InvalidCertificate, detail: (err as Error).message };
  }
  if (parsed.uriSans.length !== 1 || parsed.otherSanCount !== 0) {
    return { ok: false, reason: PeerRejection.InvalidSan, detail: `expected exactly one URI SAN, found ${parsed.uriSans.length} URI and ${parsed.otherSanCount} other` };
  }
  let identity: Identity;
  try {
    identity = parseIdentity(parsed.uriSans[0]!);
  } catch (err) {
    return { ok: false, reason: PeerRejection.InvalidSan, detail: (err as Error).message };
  }
  const usage = expect.role === 'client' ? Oid.clientAuth : Oid.serverAuth;
  if (!parsed.extKeyUsages.includes(usage)) {
    return { ok: false, reason: PeerRejection.MissingEku, detail: `certificate lacks ${expect.role === 'client' ? 'clientAuth' : 'serverAuth'} EKU` };
  }
  if (expect.role === 'client') {
    if (identity.trustDomain !== expect.trustDomain) {
      return { ok: false, reason: PeerRejection.TrustDomainMismatch, detail: `peer trust domain ${identity.trustDomain}, expected ${expect.trustDomain}` };
    }
    return { ok: true, identity };
  }
  const uri = formatIdentity(identity);
  if (!expect.identities.some((e) => formatIdentity(e) === uri)) {
    return { ok: false, reason: PeerRejection.IdentityMismatch, detail: `server is ${uri}, expected one of ${expect.identities.map(formatIdentity).join(', ')}` };
  }
  return { ok: true, identity };
}

/** The TLS material and policy for a certificate: the same for HBONE clients and servers. */
export function hboneTlsOptions(cert: WorkloadCertificate): SecureContextOptions {
  return {
    key: cert.keyPem,
    cert: cert.chainPem,
    ca: cert.rootsPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: hboneCipherSuites,
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
  };
}

const contexts = new WeakMap<WorkloadCertificate, SecureContext>();

/**
 * The secure context for a certificate, built once and reused for every handshake with it
 * on the client side (per-connection contexts cost 2.5x in handshake rate here).
 * No resumption on 15008: clients never offer a session, and servers run with SSL_OP_NO_TICKET,
 * which in TLS 1.3 makes OpenSSL issue stateful tickets only — and Node keeps no server session
 * cache, so those can never resume (tested in test/interop/python-h2.test.ts).
 */
export function secureContextFor(cert: WorkloadCertificate): SecureContext {
  let ctx = contexts.get(cert);
  if (!ctx) {
    ctx = createSecureContext(hboneTlsOptions(cert));
    contexts.set(cert, ctx);
  }
  return ctx;
}

/** For Node's client `checkServerIdentity` hook: returns an Error to abort the handshake. */
export function serverIdentityChecker(identities: readonly Identity[], onReject?: (check: PeerCheck & { ok: false }) => void) {
  return (_host: string, cert: PeerCertificate): Error | undefined => {
    const check = checkPeerCertificate(cert.raw, { role: 'server', identities });
    if (check.ok) return undefined;
    onReject?.(check);
    const err = new Error(`hbone: server identity rejected (${check.reason}): ${check.detail}`) as Error & { reason?: string };
    err.reason = check.reason;
    return err;
  };
}
