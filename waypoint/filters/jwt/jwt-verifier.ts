// verifyJwt: one token checked against one jwtRule's issuer, audiences and keys: signature, then
// `exp`/`nbf` with clock skew, then `aud` (RFC 7519 §4.1, Envoy jwt_authn semantics). Never throws.
import { constants, verify, type KeyObject } from 'node:crypto';
import type { Clock } from '../../../shared/clock.js';
import { decodeCompactJws, defaultMaxTokenBytes, type DecodedJws } from './compact-jws.js';
import { candidateKeys, type Jwks, type JwtAlgorithm } from './jwks.js';
import { JwtStatus } from './jwt-status.js';

/** Envoy JwtProvider.clock_skew_seconds: "If not specified, default is 60 seconds." */
export const defaultClockSkewSeconds = 60;

export interface JwtVerifyOptions {
  readonly issuer: string;
  /** Empty: any audience (Envoy: "If not specified, will not check audiences in the token."). */
  readonly audiences: readonly string[];
  readonly jwks: Jwks;
  readonly clock: Clock;
  readonly clockSkewSeconds?: number;
  readonly maxTokenBytes?: number;
}

export interface VerifiedJwt {
  readonly ok: true;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Istio's request.auth.principal: `iss/sub` (`iss/` when the token has no `sub`). */
  readonly principal: string;
  readonly audiences: readonly string[];
  /** The `azp` claim (Istio's request.auth.presenter). */
  readonly presenter?: string;
  readonly jws: DecodedJws;
}

export type JwtVerifyResult = VerifiedJwt | { readonly ok: false; readonly status: JwtStatus; readonly detail: string };

export function verifyJwt(token: string | DecodedJws, opts: JwtVerifyOptions): JwtVerifyResult {
  let jws: DecodedJws;
  if (typeof token === 'string') {
    const decoded = decodeCompactJws(token, opts.maxTokenBytes ?? defaultMaxTokenBytes);
    if (!decoded.ok) return decoded;
    jws = decoded.jws;
  } else {
    jws = token;
  }
  const claims = jws.payload;
  const iss = claims.iss as string | undefined;
  if (iss !== opts.issuer) return fail(JwtStatus.UnknownIssuer, `iss ${JSON.stringify(iss ?? null).slice(0, 80)}`);

  // Signature before any claim is believed. (Envoy checks time and audience first; the answer
  // differs only in which reason a forged and expired token is refused with.)
  const keys = candidateKeys(opts.jwks, jws.alg, jws.kid);
  if (keys.length === 0) return fail(JwtStatus.JwksKidAlgMismatch, `alg ${jws.alg}, kid ${jws.kid ?? '(none)'}`);
  if (!keys.some((k) => signatureValid(jws, k.key))) return fail(JwtStatus.VerificationFail, `${keys.length} candidate key(s)`);

  // Envoy (jwt.cc verifyTimeConstraint): expired when now > exp + skew, early when now + skew < nbf.
  const nowSeconds = Math.floor(opts.clock.nowMs() / 1000);
  const skew = opts.clockSkewSeconds ?? defaultClockSkewSeconds;
  const exp = claims.exp as number | undefined;
  const nbf = claims.nbf as number | undefined;
  if (nbf !== undefined && nowSeconds + skew < nbf) return fail(JwtStatus.NotYetValid, `nbf ${nbf}, now ${nowSeconds}`);
  if (exp !== undefined && nowSeconds > exp + skew) return fail(JwtStatus.Expired, `exp ${exp}, now ${nowSeconds}`);

  const aud = claims.aud as string | readonly string[] | undefined;
  const audiences = aud === undefined ? [] : typeof aud === 'string' ? [aud] : aud;
  if (!audiencesAllowed(opts.audiences, audiences)) return fail(JwtStatus.AudienceNotAllowed, `aud ${JSON.stringify(audiences).slice(0, 120)}`);

  const sub = typeof claims.sub === 'string' ? claims.sub : '';
  const azp = claims.azp as string | undefined;
  return { ok: true, claims, principal: `${iss}/${sub}`, audiences, ...(azp !== undefined ? { presenter: azp } : {}), jws };
}

/**
 * Any token audience equal to any allowed one, after jwt_verify_lib's normalization (its
 * check_audience tests): an `http://` or `https://` prefix and one trailing `/` are ignored.
 */
export function audiencesAllowed(allowed: readonly string[], tokenAudiences: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  const want = new Set(allowed.map(normalizeAudience));
  return tokenAudiences.some((a) => want.has(normalizeAudience(a)));
}

function normalizeAudience(aud: string): string {
  const noScheme = aud.startsWith('https://') ? aud.slice(8) : aud.startsWith('http://') ? aud.slice(7) : aud;
  return noScheme.endsWith('/') ? noScheme.slice(0, -1) : noScheme;
}

const hashOf: Record<JwtAlgorithm, { hash: string | null; bytes: number }> = {
  RS256: { hash: 'sha256', bytes: 32 }, RS384: { hash: 'sha384', bytes: 48 }, RS512: { hash: 'sha512', bytes: 64 },
  PS256: { hash: 'sha256', bytes: 32 }, PS384: { hash: 'sha384', bytes: 48 }, PS512: { hash: 'sha512', bytes: 64 },
  ES256: { hash: 'sha256', bytes: 32 }, ES384: { hash: 'sha384', bytes: 48 }, ES512: { hash: 'sha512', bytes: 64 },
  EdDSA: { hash: null, bytes: 0 },
};

/** RFC 7518 §3.4: an ES* signature is R||S, each the curve's coordinate size. */
const ecdsaSignatureBytes: Partial<Record<JwtAlgorithm, number>> = { ES256: 64, ES384: 96, ES512: 132 };

function signatureValid(jws: DecodedJws, key: KeyObject): boolean {
  const { hash, bytes } = hashOf[jws.alg];
  const data = Buffer.from(jws.signingInput, 'ascii');
  try {
    switch (jws.alg) {
      case 'RS256': case 'RS384': case 'RS512':
        return verify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, jws.signature);
      case 'PS256': case 'PS384': case 'PS512':
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
        return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bytes }, jws.signature);
      case 'ES256': case 'ES384': case 'ES512':
        if (jws.signature.length !== ecdsaSignatureBytes[jws.alg]) return false;
        return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, jws.signature);
      case 'EdDSA':
        return verify(null, data, key, jws.signature);
    }
  } catch {
    return false;
  }
}

function fail(status: JwtStatus, detail: string): JwtVerifyResult {
  return { ok: false, status, detail };
}
