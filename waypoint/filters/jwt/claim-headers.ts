// The header values a verified token produces: outputClaimToHeaders (Envoy claim_to_headers: a
// claim, possibly nested as `a.b.c`, of type string, number or bool) and outputPayloadToHeader
// (Envoy forward_payload_header: the payload as base64url, i.e. the token's own payload part).
import type { JwtRule } from '../../../shared/config/security-resources.js';
import type { VerifiedJwt } from './jwt-verifier.js';

/** RFC 9110 §5.5: a field value never holds CR, LF or NUL; other controls are refused as well. */
const unsafeHeaderValue = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The string Envoy writes for a claim, or undefined when the claim is absent, not a scalar, or empty. */
export function claimHeaderValue(claims: Readonly<Record<string, unknown>>, claimPath: string): string | undefined {
  let value: unknown = claims;
  for (const part of claimPath.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'boolean') text = value ? 'true' : 'false';
  else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
  // Envoy adds no header for an empty value; a value that could split or smuggle a header is dropped.
  if (text === undefined || text === '' || unsafeHeaderValue.test(text)) return undefined;
  return text;
}

/** The [name, value] pairs to set upstream for one verified token under its rule. */
export function outputHeaders(rule: JwtRule, verified: VerifiedJwt): [string, string][] {
  const out: [string, string][] = [];
  if (rule.outputPayloadToHeader !== undefined) out.push([rule.outputPayloadToHeader.toLowerCase(), verified.jws.payloadSegment]);
  for (const { header, claim } of rule.outputClaimToHeaders) {
    const value = claimHeaderValue(verified.claims, claim);
    if (value !== undefined) out.push([header.toLowerCase(), value]);
  }
  return out;
}

/**
 * Every header any rule writes. Envoy's extractor removes them from each request before verifying
 * (sanitizeHeaders), so a client can never pass a forged payload or claim header through.
 */
export function sanitizedHeaders(rules: readonly JwtRule[]): string[] {
  const names = new Set<string>();
  for (const r of rules) {
    if (r.outputPayloadToHeader !== undefined) names.add(r.outputPayloadToHeader.toLowerCase());
    for (const c of r.outputClaimToHeaders) names.add(c.header.toLowerCase());
  }
  return [...names];
}
