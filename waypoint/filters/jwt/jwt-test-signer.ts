// Test-only token minting: generates key pairs and signs compact JWS with node:crypto, so unit and
// integration tests can produce valid, expired, tampered or mis-signed tokens. Never used at runtime.
import { constants, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { encodeBase64Url } from './base64url.js';
import type { JwtAlgorithm } from './jwks.js';

export interface TestSigningKey {
  readonly alg: JwtAlgorithm;
  readonly kid?: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK as an issuer publishes it (`kid`, `alg`, `use` included unless omitted). */
  readonly publicJwk: Record<string, unknown>;
}

const curveFor = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' } as const;

export function generateTestKey(
  alg: JwtAlgorithm,
  opts: { kid?: string; omitAlg?: boolean; rsaBits?: number; pair?: { privateKey: KeyObject; publicKey: KeyObject } } = {},
): TestSigningKey {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  // RSA generation is slow (about a second on a small machine): tests reuse one pair across RS*/PS*.
  if (opts.pair) pair = opts.pair;
  else if (alg.startsWith('RS') || alg.startsWith('PS')) pair = generateKeyPairSync('rsa', { modulusLength: opts.rsaBits ?? 2048 });
  else if (alg === 'EdDSA') pair = generateKeyPairSync('ed25519');
  else pair = generateKeyPairSync('ec', { namedCurve: curveFor[alg as keyof typeof curveFor] });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const publicJwk = {
    ...jwk,
    use: 'sig',
    ...(opts.omitAlg ? {} : { alg }),
    ...(opts.kid !== undefined ? { kid: opts.kid } : {}),
  };
  return { alg, ...(opts.kid !== undefined ? { kid: opts.kid } : {}), privateKey: pair.privateKey, publicKey: pair.publicKey, publicJwk };
}

/** The JWK Set JSON text for `keys`, as a RequestAuthentication's inline `jwks` or a JWKS endpoint body. */
export function jwksJson(keys: readonly TestSigningKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
}

/** A signed compact JWS. `header` adds or overrides header fields (e.g. a wrong `kid`). */
export function signTestJwt(
  key: TestSigningKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const h = encodeBase64Url(JSON.stringify({ alg: key.alg, typ: 'JWT', ...(key.kid !== undefined ? { kid: key.kid } : {}), ...header }));
  const p = encodeBase64Url(JSON.stringify(claims));
  const input = Buffer.from(`${h}.${p}`);
  return `${h}.${p}.${encodeBase64Url(signBytes(key.alg, key.privateKey, input))}`;
}

/** An HS256 token keyed with `secret`: how an algorithm-confusion attack is minted. */
export function signHs256(secret: Uint8Array | string, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = encodeBase64Url(JSON.stringify({ alg: 'HS256', typ: 'JWT', ...header }));
  const p = encodeBase64Url(JSON.stringify(claims));
  return `${h}.${p}.${encodeBase64Url(createHmac('sha256', secret).update(`${h}.${p}`).digest())}`;
}

/** An unsigned token (`alg: none`, empty signature). */
export function unsignedJwt(claims: Record<string, unknown>): string {
  return `${encodeBase64Url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${encodeBase64Url(JSON.stringify(claims))}.`;
}

function signBytes(alg: JwtAlgorithm, key: KeyObject, data: Buffer): Buffer {
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  if (alg.startsWith('PS')) {
    return sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 });
  }
  if (alg.startsWith('ES')) return sign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  return sign(hash, data, key);
}
