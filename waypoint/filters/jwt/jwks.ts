// Jwks: a JSON Web Key Set (RFC 7517) turned into node:crypto verification keys, indexed by `kid`.
// Only asymmetric signature keys are kept (RFC 7518 §3: RS*, PS*, ES*, and EdDSA per RFC 8037);
// each unusable key is skipped with a reason, and a set with no usable key is an error value.
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';

export const jwtAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof jwtAlgorithms)[number];

export function isJwtAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === 'string' && (jwtAlgorithms as readonly string[]).includes(value);
}

/** RFC 7518 §3.4: each ES* algorithm is bound to one curve. */
const curveOfAlg = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' } as const;
const rsaAlgs: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
/** RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms." */
export const minRsaModulusBits = 2048;

export interface VerificationKey {
  readonly kid?: string;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  /** The algorithms this key may verify: the JWK's `alg` alone when present, else all its type allows. */
  readonly algorithms: readonly JwtAlgorithm[];
  readonly key: KeyObject;
}

export interface SkippedKey {
  readonly index: number;
  readonly kid?: string;
  readonly reason: string;
}

export interface Jwks {
  readonly keys: readonly VerificationKey[];
  readonly skipped: readonly SkippedKey[];
}

export type JwksResult =
  | { readonly ok: true; readonly jwks: Jwks }
  | { readonly ok: false; readonly reason: string; readonly skipped: readonly SkippedKey[] };

/** Parses a JWK Set from its JSON text (inline `jwks`, or a fetched body) or an already-parsed value. */
export function parseJwks(input: string | unknown): JwksResult {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch {
      return { ok: false, reason: 'Jwks is an invalid JSON', skipped: [] };
    }
  }
  if (!isObject(doc) || !('keys' in doc)) return { ok: false, reason: 'Jwks does not have [keys] field', skipped: [] };
  if (!Array.isArray(doc.keys)) return { ok: false, reason: '[keys] in Jwks is not an array', skipped: [] };
  const keys: VerificationKey[] = [];
  const skipped: SkippedKey[] = [];
  doc.keys.forEach((jwk: unknown, index: number) => {
    const kid = isObject(jwk) && typeof jwk.kid === 'string' ? jwk.kid : undefined;
    const r = importJwk(jwk);
    if ('reason' in r) skipped.push({ index, ...(kid !== undefined ? { kid } : {}), reason: r.reason });
    else keys.push(r);
  });
  if (keys.length === 0) {
    const why = skipped.map((s) => `key ${s.index}${s.kid !== undefined ? ` (${s.kid})` : ''}: ${s.reason}`).join('; ');
    return { ok: false, reason: `Jwks doesn't have any valid public key${why ? ` (${why})` : ''}`, skipped };
  }
  return { ok: true, jwks: { keys, skipped } };
}

/**
 * The keys that may verify a token signed with `alg` and carrying `kid`. As in Envoy's
 * jwt_verify_lib: a token kid selects keys with that kid, and keys without a kid stay candidates;
 * a token without kid tries every key of a matching type.
 */
export function candidateKeys(jwks: Jwks, alg: JwtAlgorithm, kid: string | undefined): VerificationKey[] {
  return jwks.keys.filter((k) => k.algorithms.includes(alg) && (kid === undefined || k.kid === undefined || k.kid === kid));
}

function importJwk(jwk: unknown): VerificationKey | { reason: string } {
  if (!isObject(jwk)) return { reason: 'is not an object' };
  const { kty, use, alg, kid } = jwk;
  if (kid !== undefined && typeof kid !== 'string') return { reason: '[kid] is not a string' };
  if (typeof kty !== 'string') return { reason: '[kty] is missing in [keys]' };
  if (use !== undefined && use !== 'sig') return { reason: `[use] is ${JSON.stringify(use)}, not "sig"` };
  const ops = jwk.key_ops;
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) return { reason: '[key_ops] does not include "verify"' };
  if (alg !== undefined && !isJwtAlgorithm(alg)) {
    return { reason: `[alg] ${JSON.stringify(alg)} is not supported (symmetric HS* keys and encryption keys are never used)` };
  }
  const base = kid !== undefined ? { kid } : {};
  switch (kty) {
    case 'RSA': {
      if (typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return { reason: 'Jwks RSA [n] or [e] field is missing or has a parse error' };
      if (alg !== undefined && !rsaAlgs.includes(alg)) return { reason: `[alg] ${alg} does not fit an RSA key` };
      const key = importPublic({ kty, n: jwk.n, e: jwk.e });
      if (typeof key === 'string') return { reason: key };
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < minRsaModulusBits) return { reason: `RSA modulus of ${bits} bits is under ${minRsaModulusBits} (RFC 7518 §3.3)` };
      return { ...base, kty, algorithms: alg !== undefined ? [alg] : rsaAlgs, key };
    }
    case 'EC': {
      const crv = jwk.crv;
      const algs = (Object.keys(curveOfAlg) as (keyof typeof curveOfAlg)[]).filter((a) => curveOfAlg[a] === crv);
      const fit = algs[0];
      if (fit === undefined) return { reason: `[crv] ${JSON.stringify(crv)} is not supported for an EC key` };
      if (alg !== undefined && alg !== fit) return { reason: `[crv] ${String(crv)} is not compatible with [alg] ${alg}` };
      if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return { reason: 'Jwks EC [x] or [y] field is missing' };
      const key = importPublic({ kty, crv: crv as string, x: jwk.x, y: jwk.y });
      if (typeof key === 'string') return { reason: key };
      return { ...base, kty, algorithms: [fit], key };
    }
    case 'OKP': {
      // RFC 8037 §3.1: EdDSA over Ed25519 or Ed448; X25519/X448 are key-agreement curves.
      if (jwk.crv !== 'Ed25519' && jwk.crv !== 'Ed448') return { reason: `[crv] ${JSON.stringify(jwk.crv)} is not an EdDSA curve` };
      if (alg !== undefined && alg !== 'EdDSA') return { reason: `[alg] ${alg} does not fit an OKP key` };
      if (typeof jwk.x !== 'string') return { reason: 'OKP [x] field is missing' };
      const key = importPublic({ kty, crv: jwk.crv, x: jwk.x });
      if (typeof key === 'string') return { reason: key };
      return { ...base, kty, algorithms: ['EdDSA'], key };
    }
    case 'oct':
      return { reason: 'symmetric (oct) keys are not supported: a key set a proxy reads must hold public keys only' };
    default:
      return { reason: `[kty] ${JSON.stringify(kty)} is not supported in [keys]` };
  }
}

/** Imports only the public members, so private material in a published set is never loaded. */
function importPublic(jwk: JsonWebKey): KeyObject | string {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    return `key does not import: ${(err as Error).message.slice(0, 100)}`;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
