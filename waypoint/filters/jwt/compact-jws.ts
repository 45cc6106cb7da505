// decodeCompactJws: a JWS in compact serialization (RFC 7515 §7.1) split, base64url-decoded and
// JSON-parsed, with nothing trusted yet. The signature is checked by jwt-verifier.ts.
import { decodeBase64Url } from './base64url.js';
import { isJwtAlgorithm, type JwtAlgorithm } from './jwks.js';
import { JwtStatus } from './jwt-status.js';

/** Default cap on a token's length: 8 KiB is far above real tokens and well under header limits. */
export const defaultMaxTokenBytes = 8 * 1024;

export interface DecodedJws {
  readonly alg: JwtAlgorithm;
  readonly kid?: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  /** `header.payload` as sent: the bytes the signature covers. */
  readonly signingInput: string;
  /** The payload part as sent (base64url), forwarded by outputPayloadToHeader as Envoy does. */
  readonly payloadSegment: string;
  readonly signature: Buffer;
}

export type DecodeResult = { readonly ok: true; readonly jws: DecodedJws } | { readonly ok: false; readonly status: JwtStatus; readonly detail: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeCompactJws(token: string, maxTokenBytes = defaultMaxTokenBytes): DecodeResult {
  if (token.length > maxTokenBytes) return fail(JwtStatus.TooLarge, `${token.length} bytes, limit ${maxTokenBytes}`);
  const parts = token.split('.');
  if (parts.length !== 3) return fail(JwtStatus.BadFormat, `${parts.length} parts`);
  const [h, p, s] = parts as [string, string, string];
  const header = parseJsonObject(h);
  if (header === undefined) return fail(JwtStatus.HeaderParseError, 'header');
  const payload = parseJsonObject(p);
  if (payload === undefined) return fail(JwtStatus.PayloadParseError, 'payload');
  const signature = decodeBase64Url(s);
  if (signature === undefined || signature.length === 0) return fail(JwtStatus.SignatureParseError, 'signature');
  const alg = header.alg;
  if (typeof alg !== 'string') return fail(JwtStatus.HeaderBadAlg, 'alg');
  // Never `none` (RFC 7518 §3.6) and never HS*: a verifier holding public keys must not treat one
  // as an HMAC secret, the "algorithm confusion" attack (RFC 8725 §2.1, §3.1).
  if (!isJwtAlgorithm(alg)) return fail(JwtStatus.HeaderNotImplementedAlg, `alg ${JSON.stringify(alg).slice(0, 40)}`);
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') return fail(JwtStatus.HeaderBadKid, 'kid');
  // RFC 7515 §4.1.11: a recipient must reject a `crit` extension it does not understand; we know none.
  if (header.crit !== undefined) return fail(JwtStatus.HeaderParseError, 'crit extensions are not supported');
  const claimProblem = checkRegisteredClaims(payload);
  if (claimProblem) return fail(JwtStatus.PayloadParseError, claimProblem);
  return {
    ok: true,
    jws: { alg, ...(kid !== undefined ? { kid } : {}), header, payload, signingInput: `${h}.${p}`, payloadSegment: p, signature },
  };
}

/** RFC 7519 §4.1 types, checked up front as jwt_verify_lib does: a wrong type is a malformed payload. */
function checkRegisteredClaims(c: Record<string, unknown>): string | undefined {
  for (const name of ['iss', 'sub', 'azp', 'jti'] as const) {
    if (c[name] !== undefined && typeof c[name] !== 'string') return `${name} is not a string`;
  }
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    const v = c[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) return `${name} is not a number`;
  }
  const aud = c.aud;
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    return 'aud is neither a string nor a list of strings';
  }
  return undefined;
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64Url(segment);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function fail(status: JwtStatus, detail: string): DecodeResult {
  return { ok: false, status, detail };
}
