import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../shared/clock.js';
import { encodeBase64Url } from './base64url.js';
import { parseJwks, type Jwks, type JwtAlgorithm } from './jwks.js';
import { JwtStatus } from './jwt-status.js';
import { generateTestKey, jwksJson, signHs256, signTestJwt, unsignedJwt, type TestSigningKey } from './jwt-test-signer.js';
import { audiencesAllowed, verifyJwt, type JwtVerifyResult } from './jwt-verifier.js';

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const now = Math.floor(clock.nowMs() / 1000);
const issuer = 'https://issuer.example';
const claims = { iss: issuer, sub: 'alice', aud: 'orders', exp: now + 600, iat: now };

function jwksOf(...keys: TestSigningKey[]): Jwks {
  const r = parseJwks(jwksJson(keys));
  assert.ok(r.ok, !r.ok ? r.reason : '');
  return r.jwks;
}

function check(token: string, jwks: Jwks, opts: { audiences?: string[]; issuer?: string } = {}): JwtVerifyResult {
  return verifyJwt(token, { issuer: opts.issuer ?? issuer, audiences: opts.audiences ?? ['orders'], jwks, clock });
}

function failure(r: JwtVerifyResult): string {
  assert.equal(r.ok, false, 'expected a failure');
  return (r as { status: string }).status;
}

const rsa = generateTestKey('RS256', { kid: 'rsa-1' });
const algs: JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const keyByAlg = new Map(algs.map((alg) => {
  if (alg === 'RS256') return [alg, rsa];
  const pair = alg.startsWith('RS') || alg.startsWith('PS') ? rsa : undefined;
  return [alg, generateTestKey(alg, { kid: `k-${alg}`, ...(pair ? { pair } : {}) })];
}));

describe('verifyJwt', () => {
  for (const alg of algs) {
    it(`accepts a token signed with ${alg} and reports iss/sub as the principal`, () => {
      const key = keyByAlg.get(alg)!;
      const r = check(signTestJwt(key, { ...claims, azp: 'web-app' }), jwksOf(key));
      assert.ok(r.ok, !r.ok ? `${r.status}: ${r.detail}` : '');
      assert.equal(r.principal, 'https://issuer.example/alice');
      assert.deepEqual(r.audiences, ['orders']);
      assert.equal(r.presenter, 'web-app');
      assert.equal(r.claims.sub, 'alice');
    });
  }

  it('refuses a token signed by a different key of the same type', () => {
    const other = generateTestKey('ES256', { kid: 'k-ES256' });
    assert.equal(failure(check(signTestJwt(other, claims), jwksOf(keyByAlg.get('ES256')!))), JwtStatus.VerificationFail);
  });

  it('refuses a token whose payload was changed after signing', () => {
    const [h, , s] = signTestJwt(rsa, claims).split('.');
    const forged = encodeBase64Url(JSON.stringify({ ...claims, sub: 'admin' }));
    assert.equal(failure(check(`${h}.${forged}.${s}`, jwksOf(rsa))), JwtStatus.VerificationFail);
  });

  it('refuses a token whose header was changed after signing', () => {
    const [, p, s] = signTestJwt(rsa, claims).split('.');
    const forged = encodeBase64Url(JSON.stringify({ alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' }));
    assert.equal(failure(check(`${forged}.${p}.${s}`, jwksOf(rsa))), JwtStatus.VerificationFail);
  });

  it('refuses alg none, with or without a signature part', () => {
    assert.equal(failure(check(unsignedJwt(claims), jwksOf(rsa))), JwtStatus.SignatureParseError);
    assert.equal(failure(check(`${unsignedJwt(claims)}AAAA`, jwksOf(rsa))), JwtStatus.HeaderNotImplementedAlg);
  });

  it('refuses HS256 keyed with the RSA public key (algorithm confusion)', () => {
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' });
    assert.equal(failure(check(signHs256(pem, claims, { kid: 'rsa-1' }), jwksOf(rsa))), JwtStatus.HeaderNotImplementedAlg);
  });

  it('refuses an RS256 token presented as PS256 or ES256 (alg not matching the key type)', () => {
    const [, p, s] = signTestJwt(rsa, claims).split('.');
    const es = encodeBase64Url(JSON.stringify({ alg: 'ES256', kid: 'rsa-1' }));
    assert.equal(failure(check(`${es}.${p}.${s}`, jwksOf(rsa))), JwtStatus.JwksKidAlgMismatch);
    const ps = encodeBase64Url(JSON.stringify({ alg: 'PS256', kid: 'rsa-1' }));
    // The JWK says alg RS256, so it is not a candidate for PS256.
    assert.equal(failure(check(`${ps}.${p}.${s}`, jwksOf(rsa))), JwtStatus.JwksKidAlgMismatch);
  });

  it('accepts an expired token within the 60 s skew and refuses it beyond', () => {
    assert.ok(check(signTestJwt(rsa, { ...claims, exp: now - 60 }), jwksOf(rsa)).ok);
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, exp: now - 61 }), jwksOf(rsa))), JwtStatus.Expired);
  });

  it('accepts a not-yet-valid token within the 60 s skew and refuses it beyond', () => {
    assert.ok(check(signTestJwt(rsa, { ...claims, nbf: now + 60 }), jwksOf(rsa)).ok);
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, nbf: now + 61 }), jwksOf(rsa))), JwtStatus.NotYetValid);
  });

  it('reads the time from the injected clock', () => {
    const token = signTestJwt(rsa, { ...claims, exp: now + 100 });
    const later = new ManualClock(clock.nowMs() + 161_000);
    const r = verifyJwt(token, { issuer, audiences: [], jwks: jwksOf(rsa), clock: later });
    assert.equal(failure(r), JwtStatus.Expired);
  });

  it('refuses a token from another issuer', () => {
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, iss: 'https://evil.example' }), jwksOf(rsa))), JwtStatus.UnknownIssuer);
    const { iss: _drop, ...noIss } = claims;
    assert.equal(failure(check(signTestJwt(rsa, noIss), jwksOf(rsa))), JwtStatus.UnknownIssuer);
  });

  it('accepts when any token audience is allowed, and refuses when none is', () => {
    const jwks = jwksOf(rsa);
    assert.ok(check(signTestJwt(rsa, { ...claims, aud: ['billing', 'orders'] }), jwks).ok);
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, aud: ['billing'] }), jwks)), JwtStatus.AudienceNotAllowed);
    const { aud: _drop, ...noAud } = claims;
    assert.equal(failure(check(signTestJwt(rsa, noAud), jwks)), JwtStatus.AudienceNotAllowed);
    assert.ok(check(signTestJwt(rsa, noAud), jwks, { audiences: [] }).ok, 'no configured audiences: no audience check');
  });

  it('compares audiences ignoring an http(s) scheme and a trailing slash, as jwt_verify_lib does', () => {
    assert.equal(audiencesAllowed(['https://orders.example/'], ['orders.example']), true);
    assert.equal(audiencesAllowed(['orders.example'], ['http://orders.example']), true);
    assert.equal(audiencesAllowed(['orders.example'], ['orders.example.evil']), false);
  });

  it('selects the key by kid and still tries keys without a kid', () => {
    const a = generateTestKey('ES256', { kid: 'a' });
    const b = generateTestKey('ES256', { kid: 'b' });
    const noKid = generateTestKey('ES256');
    assert.ok(check(signTestJwt(b, claims), jwksOf(a, b)).ok);
    assert.equal(failure(check(signTestJwt(b, claims, { kid: 'a' }), jwksOf(a, b))), JwtStatus.VerificationFail);
    assert.equal(failure(check(signTestJwt(b, claims, { kid: 'zzz' }), jwksOf(a, b))), JwtStatus.JwksKidAlgMismatch);
    assert.ok(check(signTestJwt(noKid, claims, { kid: 'whatever' }), jwksOf(a, noKid)).ok);
    // A token without kid is tried against every key of its type.
    assert.ok(check(signTestJwt({ ...b, kid: undefined } as unknown as TestSigningKey, claims), jwksOf(a, b)).ok);
  });

  it('refuses malformed tokens with a precise reason', () => {
    const jwks = jwksOf(rsa);
    const [h, p, s] = signTestJwt(rsa, claims).split('.') as [string, string, string];
    assert.equal(failure(check(`${h}.${p}`, jwks)), JwtStatus.BadFormat);
    assert.equal(failure(check(`${h}.${p}.${s}.x`, jwks)), JwtStatus.BadFormat);
    assert.equal(failure(check(`${h}=.${p}.${s}`, jwks)), JwtStatus.HeaderParseError);
    assert.equal(failure(check(`${h}.${p}+.${s}`, jwks)), JwtStatus.PayloadParseError);
    assert.equal(failure(check(`${h}.${p}.${s}*`, jwks)), JwtStatus.SignatureParseError);
    assert.equal(failure(check(`${encodeBase64Url('{not json')}.${p}.${s}`, jwks)), JwtStatus.HeaderParseError);
    assert.equal(failure(check(`${h}.${encodeBase64Url('[1,2]')}.${s}`, jwks)), JwtStatus.PayloadParseError);
    assert.equal(failure(check(`${h}.${encodeBase64Url('"str"')}.${s}`, jwks)), JwtStatus.PayloadParseError);
    assert.equal(failure(check(`${encodeBase64Url('{"alg":7}')}.${p}.${s}`, jwks)), JwtStatus.HeaderBadAlg);
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, exp: 'tomorrow' }), jwks)), JwtStatus.PayloadParseError);
    assert.equal(failure(check(signTestJwt(rsa, { ...claims, aud: [1] }), jwks)), JwtStatus.PayloadParseError);
    assert.equal(failure(check(signTestJwt(rsa, claims, { crit: ['b64'], b64: false }), jwks)), JwtStatus.HeaderParseError);
  });

  it('refuses non-canonical base64url (non-zero pad bits)', () => {
    const [h, p, s] = signTestJwt(generateTestKey('EdDSA'), claims).split('.') as [string, string, string];
    // Ed25519 signatures are 64 bytes: 86 chars with 4 spare bits that must be zero.
    const last = s.at(-1)!;
    const bumped = String.fromCharCode(last.charCodeAt(0) + 1);
    assert.equal(failure(check(`${h}.${p}.${s.slice(0, -1)}${bumped}`, jwksOf(rsa))), JwtStatus.SignatureParseError);
  });

  it('refuses a token over the size limit before decoding it', () => {
    const big = signTestJwt(rsa, { ...claims, pad: 'x'.repeat(9000) });
    assert.equal(failure(check(big, jwksOf(rsa))), JwtStatus.TooLarge);
    const r = verifyJwt(big, { issuer, audiences: [], jwks: jwksOf(rsa), clock, maxTokenBytes: 64 * 1024 });
    assert.ok(r.ok);
  });
});
