// The request's authenticated JWT as authorization sees it (RequestAuthentication validated it
// first), and Istio's matching of `requestPrincipals` and `request.auth.*` against it
// (istio:pilot/pkg/security/authz/model/generator.go: requestPrincipalGenerator, claims,
// audiences `aud`, presenter `azp`).
import { stringMatches } from './string-match.js';

export interface RequestAuth {
  /** `<iss>/<sub>`. */
  readonly principal: string;
  readonly audiences: readonly string[];
  /** The `azp` claim. */
  readonly presenter?: string;
  /** The token's payload. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * Istio splits both sides at the last `/` into issuer and subject (issuers are URLs): `*` needs
 * both non-empty; `*x` / `x*` without a `/` are a suffix of the subject / a prefix of the issuer;
 * with a `/`, the wildcard applies to the issuer (suffix) or the subject (prefix) only.
 */
export function requestPrincipalMatches(pattern: string, auth: RequestAuth | undefined): boolean {
  if (!auth) return false;
  const split = (v: string): [string, string | undefined] => {
    const at = v.lastIndexOf('/');
    return at >= 0 ? [v.slice(0, at), v.slice(at + 1)] : [v, undefined];
  };
  const [iss, sub] = split(auth.principal);
  if (sub === undefined || iss === '' || sub === '') return false;
  if (pattern === '*') return true;
  const [pIss, pSub] = split(pattern);
  if (pattern.startsWith('*')) {
    if (pSub === undefined) return sub.endsWith(pattern.slice(1));
    return (pIss === '*' || iss.endsWith(pIss.slice(1))) && sub === pSub;
  }
  if (pattern.endsWith('*')) {
    if (pSub === undefined) return iss.startsWith(pattern.slice(0, -1));
    return iss === pIss && (pSub === '*' || sub.startsWith(pSub.slice(0, -1)));
  }
  return iss === pIss && sub === pSub;
}

/** `request.auth.claims[a][b]` → ['a', 'b']; undefined when the key is not of that form. */
export function claimPath(key: string): string[] | undefined {
  const prefix = 'request.auth.claims';
  if (!key.startsWith(`${prefix}[`) || !key.endsWith(']')) return undefined;
  const names = key.slice(prefix.length + 1, -1).split('][');
  return names.every((n) => n.length > 0 && !/[[\]]/.test(n)) ? names : undefined;
}

/**
 * The string values at a claim path: a string claim is one value, a list claim each of its string
 * elements (Envoy's ListMatcher: any element may match); numbers, booleans, objects never match.
 */
export function claimValues(claims: Readonly<Record<string, unknown>> | undefined, path: readonly string[]): string[] {
  let node: unknown = claims;
  for (const name of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, name)) return [];
    node = (node as Record<string, unknown>)[name];
  }
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.filter((v): v is string => typeof v === 'string');
  return [];
}

/** A condition value against several candidates: Istio's value forms, any candidate may match. */
export function anyValueMatches(pattern: string, candidates: readonly string[]): boolean {
  return candidates.some((c) => stringMatches(pattern, c));
}
