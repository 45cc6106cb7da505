// SPIFFE workload identity `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`:
// the only identity shape Ambit accepts (as ztunnel's Identity::from_str). Parsing is strict:
// anything that is not exactly this shape is rejected rather than normalised.
import { ErrorCode, MeshError } from '../errors.js';

export interface Identity {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const scheme = 'spiffe://';
const maxUriLength = 2048;
// SPIFFE ID spec §2.1: trust domain is lowercase letters, digits, '.', '-', '_'.
const trustDomainPattern = /^[a-z0-9._-]{1,255}$/;
// Kubernetes namespace: RFC 1123 label.
const namespacePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
// Kubernetes service account: RFC 1123 subdomain.
const serviceAccountPattern = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

export function parseIdentity(uri: string): Identity {
  const fail = (reason: string): never => {
    throw new MeshError(ErrorCode.InvalidIdentity, `invalid SPIFFE identity ${JSON.stringify(uri.slice(0, 120))}: ${reason}`);
  };
  if (typeof uri !== 'string') fail('not a string');
  if (uri.length > maxUriLength) fail(`longer than ${maxUriLength} characters`);
  // Control characters (NUL included) and percent-escapes are never part of a valid ID:
  // rejecting them up front closes every decoding trick.
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) fail('contains a control, space or non-ASCII character');
  }
  if (uri.includes('%')) fail('percent-encoding is not allowed');
  if (!uri.startsWith(scheme)) fail(`scheme must be ${scheme}`);
  const rest = uri.slice(scheme.length);
  if (/[?#@:]/.test(rest)) fail('query, fragment, userinfo and port are not allowed');
  const parts = rest.split('/');
  if (parts.length !== 5) fail('path must be /ns/<namespace>/sa/<service-account>');
  const [trustDomain, nsKey, namespace, saKey, serviceAccount] = parts as [string, string, string, string, string];
  if (!trustDomainPattern.test(trustDomain)) fail('trust domain must be 1-255 of [a-z0-9._-]');
  if (trustDomain.startsWith('.') || trustDomain.endsWith('.') || trustDomain.includes('..')) fail('trust domain has an empty label');
  if (nsKey !== 'ns' || saKey !== 'sa') fail('path must be /ns/<namespace>/sa/<service-account>');
  if (!namespacePattern.test(namespace)) fail('namespace is not a valid Kubernetes namespace name');
  if (!serviceAccountPattern.test(serviceAccount)) fail('service account is not a valid Kubernetes name');
  return { trustDomain, namespace, serviceAccount };
}

export function tryParseIdentity(uri: string): Identity | undefined {
  try {
    return parseIdentity(uri);
  } catch {
    return undefined;
  }
}

/**
 * The URI of an identity that was already validated (parsed from a certificate, or from the
 * model), for labels and logs on per-connection paths. Anything that goes into a certificate
 * or a CSR uses formatIdentity(), which checks it.
 */
export function identityUri(id: Identity): string {
  return `${scheme}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

export function formatIdentity(id: Identity): string {
  const uri = identityUri(id);
  // Round-trip through the parser so a bad part can never be formatted into a certificate.
  parseIdentity(uri);
  return uri;
}

export function sameIdentity(a: Identity, b: Identity): boolean {
  return a.trustDomain === b.trustDomain && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;
}
