// The `when` keys at the waypoint (https://istio.io/latest/docs/reference/config/security/conditions/).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policies, request, type RequestOverrides } from '../../test/support/authz-policies.js';
import { evaluateHttp } from './evaluate-http.js';

/** An ALLOW policy with one rule whose `when` is `conditions` (YAML flow list). */
function allowWhen(conditions: string) {
  const { list, errors } = policies(`  action: ALLOW\n  rules: [{when: ${conditions}}]\n`);
  assert.deepEqual(errors, []);
  return (over: RequestOverrides = {}) => evaluateHttp(list, request(over)).allowed;
}

const auth = {
  principal: 'https://issuer.example/alice',
  audiences: ['api', 'web'],
  presenter: 'frontend',
  claims: { iss: 'https://issuer.example', groups: ['dev', 'ops'], org: { team: 'core', roles: ['admin'] }, level: 3 },
};

describe('evaluateHttp() when keys', () => {
  it('request.headers[name]: case-insensitive name, each value of a repeated header on its own', () => {
    const ok = allowWhen('[{key: "request.headers[X-Role]", values: [admin], notValues: [banned*]}]');
    assert.equal(ok({ http: { headers: [['x-role', 'admin']] } }), true);
    assert.equal(ok({ http: { headers: [['x-role', 'user'], ['x-role', 'admin']] } }), true);
    assert.equal(ok({ http: { headers: [['x-role', 'admin'], ['x-role', 'banned-user']] } }), false, 'a not-value on any repeated value fails');
    assert.equal(ok({ http: { headers: [['x-role', 'user,admin']] } }), false, 'one value is not split at commas');
    assert.equal(ok(), false, 'an absent header matches no value');
  });

  it('request.headers[name] with "*" requires the header to be present and non-empty', () => {
    const ok = allowWhen('[{key: "request.headers[x-token]", values: ["*"]}]');
    assert.equal(ok({ http: { headers: [['x-token', 'a']] } }), true);
    assert.equal(ok({ http: { headers: [['x-other', 'a']] } }), false);
  });

  it('request.headers[host] and [:authority] read the authority, [:method] the method', () => {
    const ok = allowWhen('[{key: "request.headers[Host]", values: ["echo.*"]}, {key: "request.headers[:authority]", notValues: ["*:9999"]}, {key: "request.headers[:method]", values: [GET]}]');
    assert.equal(ok(), true);
    assert.equal(ok({ http: { authority: 'evil' } }), false);
    assert.equal(ok({ http: { authority: 'echo.demo:9999' } }), false);
    assert.equal(ok({ http: { method: 'POST' } }), false);
  });

  it('request.experimental.inline.headers[name] also matches each comma-separated element', () => {
    const ok = allowWhen('[{key: "request.experimental.inline.headers[x-role]", values: [admin]}]');
    assert.equal(ok({ http: { headers: [['x-role', 'user,admin']] } }), true);
    assert.equal(ok({ http: { headers: [['x-role', 'user']] } }), false);
  });

  it('source.ip, remote.ip, destination.ip and destination.port', () => {
    const ok = allowWhen('[{key: source.ip, values: [10.0.0.0/8]}, {key: remote.ip, notValues: [203.0.113.0/24]}, {key: destination.ip, values: [10.96.0.10]}, {key: destination.port, values: ["80", "8080"]}]');
    assert.equal(ok(), true);
    assert.equal(ok({ sourceIp: '192.168.1.1' }), false);
    assert.equal(ok({ remoteIp: '203.0.113.5' }), false);
    assert.equal(ok({ destinationIp: '10.96.0.11' }), false);
    assert.equal(ok({ destinationPort: 8080 }), true);
    assert.equal(ok({ destinationPort: 9090 }), false);
  });

  it('source.namespace, source.principal and source.serviceAccount from the mTLS peer', () => {
    const ok = allowWhen('[{key: source.namespace, values: [demo]}, {key: source.principal, values: ["cluster.local/ns/demo/*"]}, {key: source.serviceAccount, notValues: [demo/bad]}]');
    assert.equal(ok(), true);
    assert.equal(ok({ sourceIdentity: { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'bad' } }), false);
    assert.equal(ok({ sourceIdentity: { trustDomain: 'cluster.local', namespace: 'other', serviceAccount: 'web' } }), false);
  });

  it('request.auth.principal, audiences (any of them) and presenter', () => {
    const ok = allowWhen('[{key: request.auth.principal, values: ["https://issuer.example/*"]}, {key: request.auth.audiences, values: [web]}, {key: request.auth.presenter, notValues: [evil]}]');
    assert.equal(ok({ auth }), true);
    assert.equal(ok({ auth: { ...auth, audiences: ['api'] } }), false);
    assert.equal(ok({ auth: { ...auth, presenter: 'evil' } }), false);
    assert.equal(ok(), false, 'no token: no principal');
  });

  it('request.auth.claims[name]: a string claim, and a list claim when any element matches', () => {
    assert.equal(allowWhen('[{key: "request.auth.claims[iss]", values: ["https://issuer.example"]}]')({ auth }), true);
    const groups = allowWhen('[{key: "request.auth.claims[groups]", values: [ops]}]');
    assert.equal(groups({ auth }), true);
    assert.equal(groups({ auth: { ...auth, claims: { groups: ['dev'] } } }), false);
    assert.equal(allowWhen('[{key: "request.auth.claims[level]", values: ["3"]}]')({ auth }), false, 'a number claim never matches');
  });

  it('request.auth.claims[a][b]: nested claims, lists inside too', () => {
    assert.equal(allowWhen('[{key: "request.auth.claims[org][team]", values: [core]}]')({ auth }), true);
    assert.equal(allowWhen('[{key: "request.auth.claims[org][roles]", values: [admin]}]')({ auth }), true);
    assert.equal(allowWhen('[{key: "request.auth.claims[org][missing]", values: ["*"]}]')({ auth }), false);
    assert.equal(allowWhen('[{key: "request.auth.claims[groups][x]", values: ["*"]}]')({ auth }), false);
  });

  it('connection.sni is absent at the waypoint: values never match, notValues pass', () => {
    assert.equal(allowWhen('[{key: connection.sni, values: ["*"]}]')(), false);
    assert.equal(allowWhen('[{key: connection.sni, notValues: [example.com]}]')(), true);
  });

  it('a DENY on a claim denies only the requests carrying it', () => {
    const { list } = policies('  action: DENY\n  rules: [{when: [{key: "request.auth.claims[groups]", values: [ops]}]}]\n');
    assert.equal(evaluateHttp(list, request({ auth })).allowed, false);
    assert.equal(evaluateHttp(list, request()).allowed, true);
  });
});
