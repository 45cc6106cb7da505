import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../shared/clock.js';
import type { JwtRule, RequestAuthenticationResource } from '../../../shared/config/security-resources.js';
import type { RequestHead } from '../../../shared/http/request-head.js';
import { encodeBase64Url } from './base64url.js';
import { generateTestKey, jwksJson, signTestJwt } from './jwt-test-signer.js';
import { JwtStatus } from './jwt-status.js';
import { RequestAuthenticator, bearerChallenge, type AuthnResult } from './request-authenticator.js';

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const now = Math.floor(clock.nowMs() / 1000);
const fooKey = generateTestKey('ES256', { kid: 'foo-1' });
const barKey = generateTestKey('EdDSA', { kid: 'bar-1' });
const foo = 'https://foo.example';
const bar = 'https://bar.example';
const fooClaims = { iss: foo, sub: 'alice', aud: 'orders', exp: now + 300, azp: 'web', groups: ['a'], org: { team: 'red', size: 3 } };

function rule(r: Partial<JwtRule> & { issuer: string }): JwtRule {
  return { audiences: [], fromHeaders: [], fromParams: [], fromCookies: [], forwardOriginalToken: false, outputClaimToHeaders: [], ...r };
}

function policy(name: string, ...jwtRules: JwtRule[]): RequestAuthenticationResource {
  return { kind: 'RequestAuthentication', meta: { name, namespace: 'demo', labels: {}, annotations: {} }, spec: { targetRefs: [], jwtRules } };
}

function head(headers: [string, string][] = [], path = '/orders', method = 'GET'): RequestHead {
  return { method, path, authority: 'orders.demo.svc:8080', headers };
}

const fooRule = rule({ issuer: foo, jwks: jwksJson([fooKey]) });
const barRule = rule({ issuer: bar, jwks: jwksJson([barKey]) });

function expectKind<K extends AuthnResult['kind']>(r: AuthnResult, kind: K): Extract<AuthnResult, { kind: K }> {
  assert.equal(r.kind, kind, JSON.stringify(r));
  return r as Extract<AuthnResult, { kind: K }>;
}

describe('RequestAuthenticator', () => {
  const authn = new RequestAuthenticator([policy('jwt', fooRule, barRule)], { clock });

  it('passes a request without a token with no identity', async () => {
    expectKind(await authn.authenticate(head()), 'none');
    expectKind(await authn.authenticate(head([['authorization', 'Basic dXNlcjpwYXNz']])), 'none');
  });

  it('accepts a bearer token and exposes principal, audiences, presenter and claims', async () => {
    const r = expectKind(await authn.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, fooClaims)}`]])), 'valid');
    assert.equal(r.principal, 'https://foo.example/alice');
    assert.deepEqual(r.audiences, ['orders']);
    assert.equal(r.presenter, 'web');
    assert.deepEqual(r.claims.groups, ['a']);
    assert.equal(r.tokens.length, 1);
  });

  it('answers the synchronous path too when keys are inline', () => {
    const r = authn.authenticateSync(head([['authorization', `Bearer ${signTestJwt(barKey, { iss: bar, sub: 'bob' })}`]]));
    assert.equal(r?.kind, 'valid');
  });

  it('validates each token with the rule of its own issuer', async () => {
    const r = expectKind(await authn.authenticate(head([['authorization', `Bearer ${signTestJwt(barKey, { iss: bar, sub: 'bob' })}`]])), 'valid');
    assert.equal(r.principal, 'https://bar.example/bob');
  });

  it('refuses a token from an issuer no rule names, with 401 and a Bearer challenge', async () => {
    const evil = generateTestKey('ES256');
    const r = expectKind(await authn.authenticate(head([['authorization', `Bearer ${signTestJwt(evil, { iss: 'https://evil.example' })}`]], '/orders?x=1')), 'invalid');
    assert.equal(r.reason, JwtStatus.UnknownIssuer);
    assert.equal(r.httpStatus, 401);
    assert.equal(r.wwwAuthenticate, 'Bearer realm="http://orders.demo.svc:8080/orders", error="invalid_token"');
  });

  it('refuses a token signed by the wrong key even though its issuer is known', async () => {
    const r = expectKind(await authn.authenticate(head([['authorization', `Bearer ${signTestJwt(barKey, { ...fooClaims })}`]])), 'invalid');
    assert.equal(r.reason, JwtStatus.JwksKidAlgMismatch);
  });

  it('refuses a garbage bearer token rather than treating it as missing', async () => {
    expectKind(await authn.authenticate(head([['authorization', 'Bearer not.a.jwt']])), 'invalid');
    expectKind(await authn.authenticate(head([['authorization', 'bearer x']])), 'invalid');
    // A bare scheme (parsers strip the trailing space) has no prefix match: Envoy skips it as missing.
    expectKind(await authn.authenticate(head([['authorization', 'Bearer']])), 'none');
  });

  it('answers 403 for a valid token whose audience is not allowed (Envoy)', async () => {
    const strict = new RequestAuthenticator([policy('aud', rule({ issuer: foo, jwks: jwksJson([fooKey]), audiences: ['billing'] }))], { clock });
    const r = expectKind(await strict.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, fooClaims)}`]])), 'invalid');
    assert.equal(r.reason, JwtStatus.AudienceNotAllowed);
    assert.equal(r.httpStatus, 403);
  });

  it('refuses the request when one of several tokens is invalid', async () => {
    const good = signTestJwt(fooKey, fooClaims);
    const expired = signTestJwt(fooKey, { ...fooClaims, exp: now - 3600 });
    const r = await authn.authenticate(head([['authorization', `Bearer ${good}`]], `/orders?access_token=${expired}`));
    assert.equal(expectKind(r, 'invalid').reason, JwtStatus.Expired);
    const both = await authn.authenticate(head([['authorization', `Bearer ${good}`], ['authorization', `Bearer ${expired}`]]));
    expectKind(both, 'invalid');
  });

  it('removes the token header before forwarding unless forwardOriginalToken is set', async () => {
    const token = signTestJwt(fooKey, fooClaims);
    const r = expectKind(await authn.authenticate(head([['authorization', `Bearer ${token}`]])), 'valid');
    assert.deepEqual(r.headerOps.remove, ['authorization']);
    const keep = new RequestAuthenticator([policy('fwd', { ...fooRule, forwardOriginalToken: true })], { clock });
    const k = expectKind(await keep.authenticate(head([['authorization', `Bearer ${token}`]])), 'valid');
    assert.deepEqual(k.headerOps.remove, []);
  });

  it('takes the default access_token query parameter and strips it from the forwarded path', async () => {
    const token = signTestJwt(fooKey, fooClaims);
    const r = expectKind(await authn.authenticate(head([], `/orders?a=1&access_token=${token}&b=%20x`)), 'valid');
    assert.equal(r.headerOps.path, '/orders?a=1&b=%20x');
  });

  it('reads a custom header with a prefix, a custom query parameter and a cookie, and nothing else', async () => {
    const custom = new RequestAuthenticator(
      [policy('custom', rule({ issuer: foo, jwks: jwksJson([fooKey]), fromHeaders: [{ name: 'X-Jwt', prefix: 'Token ' }], fromParams: ['jwt'], fromCookies: ['session'] }))],
      { clock },
    );
    const token = signTestJwt(fooKey, fooClaims);
    const fromHeader = expectKind(await custom.authenticate(head([['x-jwt', `Token ${token}`]])), 'valid');
    assert.deepEqual(fromHeader.headerOps.remove, ['x-jwt']);
    expectKind(await custom.authenticate(head([], `/o?jwt=${token}`)), 'valid');
    const fromCookie = expectKind(await custom.authenticate(head([['cookie', `theme=dark; session=${token}`]])), 'valid');
    assert.deepEqual(fromCookie.headerOps.remove, [], 'Envoy leaves a cookie token in place');
    // The defaults no longer apply once a location is configured.
    expectKind(await custom.authenticate(head([['authorization', `Bearer ${token}`]])), 'none');
    expectKind(await custom.authenticate(head([], `/o?access_token=${token}`)), 'none');
    // A value without the prefix is not a token at that location.
    expectKind(await custom.authenticate(head([['x-jwt', token]])), 'none');
  });

  it('refuses a token found at a location its issuer did not configure', async () => {
    const split = new RequestAuthenticator(
      [policy('split', rule({ issuer: foo, jwks: jwksJson([fooKey]), fromHeaders: [{ name: 'x-foo' }] }), rule({ issuer: bar, jwks: jwksJson([barKey]), fromHeaders: [{ name: 'x-bar' }] }))],
      { clock },
    );
    const r = await split.authenticate(head([['x-bar', signTestJwt(fooKey, fooClaims)]]));
    assert.equal(expectKind(r, 'invalid').reason, JwtStatus.UnknownIssuer);
    expectKind(await split.authenticate(head([['x-foo', signTestJwt(fooKey, fooClaims)]])), 'valid');
  });

  it('writes outputPayloadToHeader and outputClaimToHeaders, and strips forged copies of them', async () => {
    const out = new RequestAuthenticator(
      [policy('out', rule({
        issuer: foo,
        jwks: jwksJson([fooKey]),
        outputPayloadToHeader: 'X-Jwt-Payload',
        outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }, { header: 'x-team', claim: 'org.team' }, { header: 'x-size', claim: 'org.size' }, { header: 'x-groups', claim: 'groups' }],
      }))],
      { clock },
    );
    const token = signTestJwt(fooKey, fooClaims);
    const r = expectKind(await out.authenticate(head([['authorization', `Bearer ${token}`], ['x-sub', 'forged']])), 'valid');
    assert.deepEqual(new Set(r.headerOps.remove), new Set(['x-jwt-payload', 'x-sub', 'x-team', 'x-size', 'x-groups', 'authorization']));
    const set = new Map(r.headerOps.set);
    assert.equal(set.get('x-jwt-payload'), token.split('.')[1]);
    assert.deepEqual(JSON.parse(Buffer.from(set.get('x-jwt-payload')!, 'base64url').toString()), fooClaims);
    assert.equal(set.get('x-sub'), 'alice');
    assert.equal(set.get('x-team'), 'red');
    assert.equal(set.get('x-size'), '3');
    assert.equal(set.has('x-groups'), false, 'a list claim is not copied');
    const none = expectKind(await out.authenticate(head([['x-sub', 'forged']])), 'none');
    assert.ok(none.headerOps.remove.includes('x-sub'), 'forged output headers are stripped even without a token');
  });

  it('drops a claim header whose value could split the header', async () => {
    const out = new RequestAuthenticator([policy('out', rule({ issuer: foo, jwks: jwksJson([fooKey]), outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }] }))], { clock });
    const r = expectKind(await out.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, { ...fooClaims, sub: 'a\r\nx-admin: 1' })}`]])), 'valid');
    assert.deepEqual(r.headerOps.set, []);
  });

  it('lets a CORS preflight through without looking at tokens', async () => {
    const r = await authn.authenticate(head([['origin', 'https://app.example'], ['access-control-request-method', 'POST'], ['authorization', 'Bearer junk']], '/orders', 'OPTIONS'));
    expectKind(r, 'none');
    expectKind(await authn.authenticate(head([['authorization', 'Bearer junk']], '/orders', 'OPTIONS')), 'invalid');
  });

  it('refuses tokens for an issuer whose inline key set has no usable key', async () => {
    const broken = new RequestAuthenticator([policy('b', rule({ issuer: foo, jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }))], { clock });
    const r = await broken.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, fooClaims)}`]]));
    assert.equal(expectKind(r, 'invalid').reason, JwtStatus.JwksNoValidKeys);
  });

  it('refuses tokens for a jwksUri rule when no fetcher is wired', async () => {
    const remote = new RequestAuthenticator([policy('r', rule({ issuer: foo, jwksUri: 'https://foo.example/jwks' }))], { clock });
    const r = await remote.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, fooClaims)}`]]));
    assert.equal(expectKind(r, 'invalid').reason, JwtStatus.JwksFetchFail);
  });

  it('accepts a token when one of two rules with the same issuer holds its key', async () => {
    const two = new RequestAuthenticator([policy('old', rule({ issuer: foo, jwks: jwksJson([barKey]) })), policy('new', fooRule)], { clock });
    expectKind(await two.authenticate(head([['authorization', `Bearer ${signTestJwt(fooKey, fooClaims)}`]])), 'valid');
  });

  it('passes everything when no RequestAuthentication applies', async () => {
    const empty = new RequestAuthenticator([], { clock });
    assert.equal(empty.empty, true);
    expectKind(await empty.authenticate(head([['authorization', 'Bearer junk']])), 'none');
  });

  it('escapes quotes in the challenge realm and caps it at 256 characters', () => {
    assert.equal(bearerChallenge('http', { authority: 'a"b', path: '/x' }), 'Bearer realm="http://a\\"b/x", error="invalid_token"');
    const long = bearerChallenge('https', { authority: 'h', path: `/${'p'.repeat(400)}` });
    assert.equal(long.length, 'Bearer realm="", error="invalid_token"'.length + 256);
  });

  it('treats a payload segment with an encoded non-object as malformed', async () => {
    const [h, , s] = signTestJwt(fooKey, fooClaims).split('.');
    const r = await authn.authenticate(head([['authorization', `Bearer ${h}.${encodeBase64Url('null')}.${s}`]]));
    assert.equal(expectKind(r, 'invalid').reason, JwtStatus.PayloadParseError);
  });
});
