// Direct tier: RequestAuthentication at the waypoint (issue 5, Security) — JWT issuer/audiences,
// JWKS inline or fetched from a jwksUri on a real loopback server (cached, refreshed, last good
// keys kept, never unsigned), fromHeaders, forwardOriginalToken, outputPayloadToHeader and
// outputClaimToHeaders; invalid tokens are 401 with a Bearer challenge; authorization with
// requestPrincipals and request.auth.claims[...]. Addresses 127.90.x.y.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../shared/clock.js';
import { JwksFetcher } from '../../waypoint/filters/jwt/jwks-fetcher.js';
import { generateTestKey, jwksJson, signHs256, signTestJwt, unsignedJwt, type TestSigningKey } from '../../waypoint/filters/jwt/jwt-test-signer.js';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { httpOver, startEcho, startWaypoint, type EchoBackend, type WaypointUnderTest } from '../support/waypoint-harness.js';
import { DirectCluster, eventually } from '../support/ztunnel-harness.js';

const iss = { inline: 'https://issuer.example', forward: 'https://forward.example', custom: 'https://custom.example', remote: 'https://remote.example', down: 'https://down.example' } as const;
const refreshMs = 3_000;

/** A JWKS endpoint on 127.0.0.1: serves the current key set (the first answer delayed), counts fetches. */
interface JwksServer {
  readonly uri: string;
  fetches: number;
  publish(keys: readonly TestSigningKey[]): void;
  stop(): Promise<void>;
}

async function startJwksServer(keys: readonly TestSigningKey[], firstDelayMs: number): Promise<JwksServer> {
  let body = jwksJson(keys);
  const server = http.createServer((_req, res) => {
    const delay = s.fetches++ === 0 ? firstDelayMs : 0;
    setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(body), delay);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s: JwksServer = {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    fetches: 0,
    publish: (k) => void (body = jwksJson(k)),
    stop: async () => {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return s;
}
/** A loopback port with nothing listening (connection refused). */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function resources(inlineJwks: string, forwardJwks: string, customJwks: string, remoteUri: string, downUri: string): string {
  return `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: inline-jwt, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  jwtRules:
  - issuer: ${iss.inline}
    audiences: [echo.demo]
    jwks: ${JSON.stringify(inlineJwks)}
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}, {header: x-jwt-team, claim: org.team}]
  - issuer: ${iss.forward}
    jwks: ${JSON.stringify(forwardJwks)}
    forwardOriginalToken: true
  - issuer: ${iss.custom}
    jwks: ${JSON.stringify(customJwks)}
    fromHeaders: [{name: x-auth-token, prefix: "Token "}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: remote-jwt, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: echo}]
  jwtRules:
  - {issuer: ${iss.remote}, jwksUri: "${remoteUri}"}
  - {issuer: ${iss.down}, jwksUri: "${downUri}"}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: secure-needs-jwt, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules: [{from: [{source: {notRequestPrincipals: ["*"]}}], to: [{operation: {paths: ["/secure/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: jwt-gates, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: echo}]
  action: ALLOW
  rules:
  - to: [{operation: {notPaths: ["/members/*", "/admin/*", "/team/*"]}}]
  - from: [{source: {requestPrincipals: ["${iss.inline}/*"]}}]
    to: [{operation: {paths: ["/members/*"]}}]
  - to: [{operation: {paths: ["/admin/*"]}}]
    when: [{key: "request.auth.claims[groups]", values: [admin]}]
  - to: [{operation: {paths: ["/team/*"]}}]
    when: [{key: "request.auth.claims[org][team]", values: [blue]}]
`;
}

describe('request authentication at the waypoint (direct tier)', () => {
  const now = Math.floor(Date.now() / 1000);
  const rsa = generateTestKey('RS256', { kid: 'rsa-1' });
  const keys = { forward: generateTestKey('ES256', { kid: 'fwd-1' }), custom: generateTestKey('ES256', { kid: 'custom-1' }), remoteA: generateTestKey('ES256', { kid: 'remote-a' }), remoteB: generateTestKey('ES256', { kid: 'remote-b' }), down: generateTestKey('ES256', { kid: 'down-1' }), attacker: generateTestKey('ES256', { kid: 'rsa-1' }) };
  const claims = (issuer: string, extra: Record<string, unknown> = {}) => ({ iss: issuer, sub: 'alice', aud: 'echo.demo', iat: now, exp: now + 600, groups: ['dev', 'admin'], org: { team: 'blue' }, ...extra });
  const good = signTestJwt(rsa, claims(iss.inline));
  let jwks: JwksServer;
  let downUri: string;
  let fetcher: JwksFetcher;
  let cluster: DirectCluster;
  let wp: WaypointUnderTest;
  let echoes: EchoBackend[];
  let mesh: ReturnType<typeof waypointMesh>;

  before(async () => {
    jwks = await startJwksServer([keys.remoteA], 300);
    downUri = `http://127.0.0.1:${await deadPort()}/jwks`;
    mesh = waypointMesh('127.90', resources(jwksJson([rsa]), jwksJson([keys.forward]), jwksJson([keys.custom]), jwks.uri, downUri));
    fetcher = new JwksFetcher({ clock: systemClock, refreshIntervalMs: refreshMs, retryMinMs: 200, retryMaxMs: 400, timeoutMs: 1_000 });
    cluster = await DirectCluster.start(mesh.nodes, mesh.yaml);
    wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, mesh.ips.waypoint, { jwksFetcher: fetcher });
    echoes = [await startEcho('echo-v1', mesh.ips.v1, 8080), await startEcho('echo-v2', mesh.ips.v2, 8080)];
  });

  after(async () => {
    fetcher?.close();
    await wp?.waypoint.shutdown(0);
    await Promise.all((echoes ?? []).map((e) => e.close()));
    await cluster?.close();
    await jwks?.stop();
  });

  const request = (path: string, headers: Record<string, string> = {}) => httpOver(cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 }), { path, headers });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const served = (): number => echoes.reduce((n, e) => n + e.requests.length, 0);
  const challenge = (path: string) => `Bearer realm="http://echo.demo.svc.cluster.local${path}", error="invalid_token"`;

  it('waits for the first jwksUri fetch, then accepts a token signed by the fetched key', async () => {
    const r = await request('/open/remote', bearer(signTestJwt(keys.remoteA, claims(iss.remote))));
    assert.equal(r.status, 200, r.body);
    assert.equal(jwks.fetches, 1);
  });

  it('caches the fetched key set: further tokens are verified without fetching it again', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await request(`/open/cached/${i}`, bearer(signTestJwt(keys.remoteA, claims(iss.remote, { sub: `u${i}` }))))).status, 200);
    assert.equal(jwks.fetches, 1, 'one fetch within the refresh interval');
  });

  it('accepts a valid token and removes the Authorization header before the backend (forwardOriginalToken defaults to false)', async () => {
    const r = await request('/open/hello', bearer(good));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.echo?.headers['authorization'], undefined);
  });

  it('sets outputPayloadToHeader to the token\'s base64url payload and outputClaimToHeaders to a plain and a nested claim', async () => {
    const r = await request('/open/claims', bearer(good));
    assert.equal(r.status, 200, r.body);
    const payload = String(r.echo?.headers['x-jwt-payload']);
    assert.equal(payload, good.split('.')[1]);
    assert.match(payload, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
    assert.deepEqual(JSON.parse(Buffer.from(payload, 'base64url').toString()), claims(iss.inline));
    assert.equal(r.echo?.headers['x-jwt-sub'], 'alice');
    assert.equal(r.echo?.headers['x-jwt-team'], 'blue');
  });

  it('passes the Authorization header through unchanged when the rule sets forwardOriginalToken: true', async () => {
    const token = signTestJwt(keys.forward, claims(iss.forward, { sub: 'bob' }));
    const r = await request('/open/forward', bearer(token));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.echo?.headers['authorization'], `Bearer ${token}`);
  });

  it('reads a token from a fromHeaders header after its prefix, removes that header, and refuses the token at a location its rule does not list', async () => {
    const token = signTestJwt(keys.custom, claims(iss.custom));
    const r = await request('/open/custom', { 'x-auth-token': `Token ${token}` });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.echo?.headers['x-auth-token'], undefined);
    const before = served();
    const elsewhere = await request('/open/custom', bearer(token));
    assert.equal(elsewhere.status, 401);
    assert.equal(elsewhere.body, 'Jwt issuer is not configured');
    assert.equal(served(), before);
  });

  it('refuses expired, not-yet-valid, wrong-issuer, wrong-audience, tampered, unsigned and algorithm-confused tokens with 401 and a Bearer challenge, never reaching the backend', async () => {
    const [h, , s] = good.split('.');
    const cases: [string, string, string | undefined][] = [
      ['expired', signTestJwt(rsa, claims(iss.inline, { iat: now - 7200, exp: now - 3600 })), 'Jwt is expired'],
      ['not yet valid', signTestJwt(rsa, claims(iss.inline, { nbf: now + 3600 })), 'Jwt not yet valid'],
      ['wrong issuer', signTestJwt(rsa, claims('https://evil.example')), 'Jwt issuer is not configured'],
      ['wrong audience', signTestJwt(rsa, claims(iss.inline, { aud: 'other.demo' })), 'Audiences in Jwt are not allowed'],
      ['tampered payload', `${h}.${Buffer.from(JSON.stringify(claims(iss.inline, { sub: 'mallory' }))).toString('base64url')}.${s}`, 'Jwt verification fails'],
      ['alg none', unsignedJwt(claims(iss.inline)), undefined],
      ['HS256 keyed with the public key', signHs256(rsa.publicKey.export({ type: 'spki', format: 'pem' }), claims(iss.inline), { kid: 'rsa-1' }), undefined],
      ['signed by an unpublished key under a published kid', signTestJwt(keys.attacker, claims(iss.inline)), undefined],
    ];
    const before = served();
    for (const [what, token, body] of cases) {
      for (const path of ['/open/x', '/secure/x']) {
        const r = await request(path, bearer(token));
        assert.equal(r.status, 401, `${what} at ${path}: ${r.status} ${r.body}`);
        assert.equal(r.headers['www-authenticate'], challenge(path), what);
        if (body) assert.equal(r.body, body, what);
      }
    }
    assert.equal(served(), before, 'no refused token reached a backend');
  });

  it('lets a request without a token through when no policy needs a request principal', async () => {
    assert.equal((await request('/open/anonymous')).status, 200);
    assert.equal((await request('/open/basic', { authorization: 'Basic dXNlcjpwYXNz' })).status, 200, 'a non-Bearer Authorization is no token');
  });

  it('answers 401 without a token where a DENY notRequestPrincipals ["*"] applies, and 200 with a valid one', async () => {
    const before = served();
    const r = await request('/secure/data');
    assert.equal(r.status, 401, r.body);
    assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/);
    assert.equal(served(), before);
    assert.equal((await request('/secure/data', bearer(good))).status, 200);
  });

  it('admits an ALLOW requestPrincipals path only for the named issuer: no token 401, another issuer 403, that issuer 200', async () => {
    assert.equal((await request('/members/x')).status, 401);
    const other = await request('/members/x', bearer(signTestJwt(keys.forward, claims(iss.forward))));
    assert.equal(other.status, 403);
    assert.equal(other.body, 'RBAC: access denied');
    assert.equal((await request('/members/x', bearer(good))).status, 200);
  });

  it('admits an ALLOW on request.auth.claims[groups] when the list claim contains "admin", and refuses other groups with 403', async () => {
    assert.equal((await request('/admin/x', bearer(good))).status, 200);
    assert.equal((await request('/admin/x', bearer(signTestJwt(rsa, claims(iss.inline, { groups: ['dev', 'ops'] }))))).status, 403);
    assert.equal((await request('/admin/x', bearer(signTestJwt(rsa, claims(iss.inline, { groups: 'admin' }))))).status, 200, 'a string claim is one value');
    assert.equal((await request('/admin/x')).status, 401);
  });

  it('admits an ALLOW on the nested claim request.auth.claims[org][team] only for the matching value', async () => {
    assert.equal((await request('/team/x', bearer(good))).status, 200);
    assert.equal((await request('/team/x', bearer(signTestJwt(rsa, claims(iss.inline, { org: { team: 'red' } }))))).status, 403);
    assert.equal((await request('/team/x', bearer(signTestJwt(rsa, claims(iss.inline, { org: 'blue', team: 'blue' }))))).status, 403);
  });

  it('strips client-sent payload and claim headers the authenticator owns, with or without a token', async () => {
    const forged = { 'x-jwt-payload': Buffer.from('{"sub":"root"}').toString('base64url'), 'x-jwt-sub': 'root', 'x-jwt-team': 'red' };
    const anon = await request('/open/forged', forged);
    assert.equal(anon.status, 200, anon.body);
    for (const name of Object.keys(forged)) assert.equal(anon.echo?.headers[name], undefined, name);
    const authed = await request('/open/forged', { ...forged, ...bearer(good) });
    const raw = authed.echo?.raw ?? [];
    const values = (name: string) => raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === name);
    assert.deepEqual(values('x-jwt-payload'), [good.split('.')[1]]);
    assert.deepEqual(values('x-jwt-sub'), ['alice']);
    assert.deepEqual(values('x-jwt-team'), ['blue']);
  });

  it('refreshes the jwksUri key set: after the issuer rotates keys the new key is accepted and the retired one refused', async () => {
    const attempts = fetcher.stats(jwks.uri)?.attempts ?? 0;
    jwks.publish([keys.remoteB]);
    await eventually(() => assert.ok((fetcher.stats(jwks.uri)?.attempts ?? 0) > attempts, 'a refresh completed'), refreshMs * 2);
    assert.equal((await request('/open/rotated', bearer(signTestJwt(keys.remoteB, claims(iss.remote))))).status, 200);
    const old = await request('/open/rotated', bearer(signTestJwt(keys.remoteA, claims(iss.remote))));
    assert.equal(old.status, 401, old.body);
  });

  it('keeps the last good keys when a refresh fails: with the JWKS server stopped, tokens signed by the cached key still pass', async () => {
    const failures = fetcher.stats(jwks.uri)?.failures ?? 0;
    await jwks.stop();
    await eventually(() => assert.ok((fetcher.stats(jwks.uri)?.failures ?? 0) > failures, 'a refresh failed'), refreshMs * 2);
    assert.equal((await request('/open/stale', bearer(signTestJwt(keys.remoteB, claims(iss.remote))))).status, 200);
  });

  it('never accepts an unsigned or foreign-signed token for a jwksUri issuer while its server is down', async () => {
    const before = served();
    assert.equal((await request('/open/x', bearer(unsignedJwt(claims(iss.remote))))).status, 401);
    const forged = generateTestKey('ES256', { kid: 'remote-b' });
    assert.equal((await request('/open/x', bearer(signTestJwt(forged, claims(iss.remote))))).status, 401);
    assert.equal(served(), before);
  });

  it('refuses every token of a jwksUri issuer whose key set was never fetched with 401 "Jwks remote fetch is failed"', async () => {
    const before = served();
    for (let i = 0; i < 2; i++) {
      const r = await request('/open/down', bearer(signTestJwt(keys.down, claims(iss.down))));
      assert.equal(r.status, 401, r.body);
      assert.equal(r.body, 'Jwks remote fetch is failed');
      assert.equal(r.headers['www-authenticate'], challenge('/open/down'));
    }
    assert.equal((await request('/open/down', bearer(unsignedJwt(claims(iss.down))))).status, 401);
    assert.ok((fetcher.stats(downUri)?.failures ?? 0) >= 1);
    assert.equal(served(), before);
  });
});
