// JwtStatus: why a token was refused, with Envoy's messages (jwt_verify_lib status.cc) so the 401
// body reads as Envoy's does, and the HTTP status Envoy's jwt_authn filter answers with.

export const JwtStatus = {
  Missing: 'Jwt is missing',
  NotYetValid: 'Jwt not yet valid',
  Expired: 'Jwt is expired',
  BadFormat: 'Jwt is not in the form of Header.Payload.Signature',
  HeaderParseError: 'Jwt header is an invalid Base64url input or an invalid JSON',
  HeaderBadAlg: 'Jwt header [alg] field is not a string',
  HeaderNotImplementedAlg: 'Jwt header [alg] field value is invalid',
  HeaderBadKid: 'Jwt header [kid] field is not a string',
  PayloadParseError: 'Jwt payload is an invalid Base64 or an invalid JSON',
  SignatureParseError: 'Jwt signature is an invalid Base64',
  UnknownIssuer: 'Jwt issuer is not configured',
  AudienceNotAllowed: 'Audiences in Jwt are not allowed',
  VerificationFail: 'Jwt verification fails',
  JwksNoValidKeys: "Jwks doesn't have any valid public key",
  JwksKidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  JwksFetchFail: 'Jwks remote fetch is failed',
  /** Ambit's own: Envoy has no size cap of its own besides the header limits. */
  TooLarge: 'Jwt is too large',
} as const;
export type JwtStatus = (typeof JwtStatus)[keyof typeof JwtStatus];

/**
 * Envoy's filter.cc answers 403 for an audience mismatch and 401 for every other failure. The
 * mapping lives here so the waypoint's executor and `ambit x authz check` agree.
 */
export function httpStatusFor(status: JwtStatus): 401 | 403 {
  return status === JwtStatus.AudienceNotAllowed ? 403 : 401;
}
