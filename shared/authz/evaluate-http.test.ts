import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policies, request, webIdentity as web, type RequestOverrides } from '../../test/support/authz-policies.js';
import { evaluateHttp } from './evaluate-http.js';
import { evaluate } from './evaluate.js';

const other = { trustDomain: 'cluster.local', namespace: 'other', serviceAccount: 'x' };

function check(specs: string[]) {
  const { list, errors } = policies(...specs);
  assert.deepEqual(errors, []);
  return (over: RequestOverrides = {}) => evaluateHttp(list, request(over));
}

describe('waypoint L7 authorization evaluateHttp()', () => {
  it('allows everything when no policy applies, with empty dry-run and audit lists', () => {
    assert.deepEqual(evaluateHttp([], request()), { allowed: true, dryRun: [], audit: [] });
  });

  it('denies first: a matching DENY wins over a matching ALLOW and names the policy', () => {
    const c = check(['  action: ALLOW\n  rules: [{}]\n', '  action: DENY\n  rules: [{to: [{operation: {paths: [/admin*]}}]}]\n']);
    assert.deepEqual(c({ http: { path: '/admin/x' } }), { allowed: false, reason: 'explicitly_denied', policy: 'demo/p1', dryRun: [], audit: [] });
    assert.deepEqual(c({ http: { path: '/public' } }), { allowed: true, policy: 'demo/p0', dryRun: [], audit: [] });
  });

  it('denies with not_allowed when ALLOW policies exist and none matches', () => {
    const c = check(['  action: ALLOW\n  rules: [{to: [{operation: {methods: [GET]}}]}]\n']);
    assert.equal(c().allowed, true);
    assert.deepEqual(c({ http: { method: 'POST' } }), { allowed: false, reason: 'not_allowed', dryRun: [], audit: [] });
  });

  it('allows nothing under an ALLOW policy without rules', () => {
    assert.equal(check(['  action: ALLOW\n'])().allowed, false);
  });

  it('reports dry-run policies with whether they matched, and never enforces them', () => {
    const c = check(['#dry\n  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n']);
    assert.deepEqual(c({ http: { path: '/admin' } }), { allowed: true, dryRun: [{ policy: 'demo/p0', action: 'DENY', matched: true }], audit: [] });
    assert.deepEqual(c({ http: { path: '/x' } }).dryRun, [{ policy: 'demo/p0', action: 'DENY', matched: false }]);
  });

  it('lists matching AUDIT policies without letting them decide', () => {
    const c = check(['  action: AUDIT\n  rules: [{to: [{operation: {methods: [DELETE]}}]}]\n', '  action: ALLOW\n  rules: [{to: [{operation: {methods: [GET]}}]}]\n']);
    assert.deepEqual(c({ http: { method: 'DELETE' } }), { allowed: false, reason: 'not_allowed', dryRun: [], audit: ['demo/p0'] });
    assert.deepEqual(c().audit, []);
  });

  it('fails closed on an invalid rule: never allows, always denies', () => {
    const allow = policies('  action: ALLOW\n  rules: [{to: [{operation: {ports: ["99999"]}}]}]\n');
    assert.notDeepEqual(allow.errors, []);
    assert.equal(evaluateHttp(allow.list, request()).allowed, false);
    const deny = policies('  action: DENY\n  rules: [{when: [{key: request.nope, values: [x]}]}]\n');
    assert.notDeepEqual(deny.errors, []);
    assert.deepEqual(evaluateHttp(deny.list, request()), { allowed: false, reason: 'explicitly_denied', policy: 'demo/p0', dryRun: [], audit: [] });
  });

  it('treats an unsupported CUSTOM policy as a DENY of what its rules match (fail closed)', () => {
    const { list } = policies('  action: CUSTOM\n  provider: {name: ext}\n  rules: [{to: [{operation: {paths: [/secure*]}}]}]\n');
    assert.equal(list.length, 1);
    assert.deepEqual(evaluateHttp(list, request({ http: { path: '/secure/a' } })), { allowed: false, reason: 'explicitly_denied', policy: 'demo/p0', dryRun: [], audit: [] });
    assert.equal(evaluateHttp(list, request({ http: { path: '/open' } })).allowed, true);
  });

  it('refuses a path that cannot be normalized instead of matching it', () => {
    const c = check(['  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n']);
    assert.deepEqual(c({ http: { path: '/a%zz' } }), { allowed: false, reason: 'invalid_path', detail: 'invalid percent-encoding at offset 2', dryRun: [], audit: [] });
  });

  it('matches principals, namespaces, serviceAccounts and their not-forms on the mTLS peer', () => {
    const c = check([`  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/demo/sa/*], notPrincipals: [cluster.local/ns/demo/sa/bad]}}]
  - from: [{source: {namespaces: [other], notNamespaces: [demo]}}]
    to: [{operation: {methods: [HEAD]}}]
  - from: [{source: {serviceAccounts: [ops]}}]
    to: [{operation: {methods: [PUT]}}]
`]);
    assert.equal(c().allowed, true);
    assert.equal(c({ sourceIdentity: { ...web, serviceAccount: 'bad' } }).allowed, false);
    assert.equal(c({ sourceIdentity: other }).allowed, false);
    assert.equal(c({ sourceIdentity: other, http: { method: 'HEAD' } }).allowed, true);
    assert.equal(c({ sourceIdentity: { ...web, serviceAccount: 'ops' }, http: { method: 'PUT' } }).allowed, true);
    assert.equal(c({ sourceIdentity: other, http: { method: 'PUT' } }).allowed, false);
    const { sourceIdentity: _, ...plaintext } = request();
    assert.equal(evaluateHttp(policies(`  action: ALLOW\n  rules: [{from: [{source: {principals: ["*"]}}]}]\n`).list, plaintext).allowed, false);
  });

  it('matches ipBlocks on the client address and remoteIpBlocks on remote.ip, which defaults to it', () => {
    const c = check(['  action: DENY\n  rules: [{from: [{source: {ipBlocks: [10.0.0.0/24], notIpBlocks: [10.0.0.66]}}]}]\n', '  action: DENY\n  rules: [{from: [{source: {remoteIpBlocks: [192.0.2.0/24], notRemoteIpBlocks: [192.0.2.7]}}]}]\n']);
    assert.equal(c().policy, 'demo/p0');
    assert.equal(c({ sourceIp: '10.0.0.66' }).allowed, true);
    assert.equal(c({ sourceIp: '10.1.0.1' }).allowed, true);
    assert.equal(c({ sourceIp: '192.0.2.1' }).policy, 'demo/p1', 'remote.ip defaults to the direct peer');
    assert.equal(c({ sourceIp: '10.1.0.1', remoteIp: '192.0.2.9' }).policy, 'demo/p1');
    assert.equal(c({ sourceIp: '10.1.0.1', remoteIp: '192.0.2.7' }).allowed, true);
  });

  it('matches hosts case-insensitively, with the port only when the pattern has one', () => {
    const c = check(['  action: ALLOW\n  rules: [{to: [{operation: {hosts: [echo.demo.svc.cluster.local, "echo:*"], notHosts: [echo:9999]}}]}]\n']);
    assert.equal(c({ http: { authority: 'Echo.Demo.SVC.cluster.local' } }).allowed, true);
    assert.equal(c({ http: { authority: 'echo.demo.svc.cluster.local:80' } }).allowed, false, 'Istio matches the authority as received');
    assert.equal(c({ http: { authority: 'ECHO:80' } }).allowed, true);
    assert.equal(c({ http: { authority: 'echo:9999' } }).allowed, false);
    assert.equal(c({ http: { authority: 'evil' } }).allowed, false);
  });

  it('matches methods and notMethods exactly (case-sensitive)', () => {
    const c = check(['  action: ALLOW\n  rules: [{to: [{operation: {notMethods: [DELETE, PATCH]}}]}]\n']);
    assert.equal(c({ http: { method: 'GET' } }).allowed, true);
    assert.equal(c({ http: { method: 'DELETE' } }).allowed, false);
  });

  it('matches ports and notPorts on the destination port', () => {
    const c = check(['  action: ALLOW\n  rules: [{to: [{operation: {ports: ["80", "81"], notPorts: ["81"], notPaths: [/private*]}}]}]\n']);
    assert.equal(c().allowed, true);
    assert.equal(c({ destinationPort: 8080 }).allowed, false);
    assert.equal(c({ destinationPort: 81 }).allowed, false);
    assert.equal(c({ http: { path: '/private/x' } }).allowed, false);
  });

  it('matches paths by exact, prefix, suffix, presence and templates', () => {
    const c = check(['  action: ALLOW\n  rules: [{to: [{operation: {paths: [/exact, "/pre/*", "*.png", "/users/{*}/orders", "/files/{**}"]}}]}]\n']);
    for (const p of ['/exact', '/pre/a/b', '/img/x.png', '/users/42/orders', '/files/a/b/c', '/exact?q=1']) assert.equal(c({ http: { path: p } }).allowed, true, p);
    for (const p of ['/exact/', '/pre', '/users/42/x/orders', '/users//orders', '/filesx']) assert.equal(c({ http: { path: p } }).allowed, false, p);
    assert.equal(check(['  action: ALLOW\n  rules: [{to: [{operation: {paths: ["*"]}}]}]\n'])().allowed, true);
  });

  it('catches normalization bypass attempts of a DENY on /admin', () => {
    const c = check(['  action: DENY\n  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]\n']);
    for (const p of ['/admin', '/public/../admin', '//admin', '/%61dmin', '/%2e%2e/admin', '/./admin', '/admin?x=1', '/admin#f', '/x/..//admin/', '/public\\..\\admin', '/ADMIN/../admin']) {
      assert.equal(c({ http: { path: p } }).policy, 'demo/p0', p);
    }
    // Encoded slashes stay encoded (Istio's default): `/admin%2Fx` is one segment the backend sees as such.
    assert.equal(c({ http: { path: '/public%2F..%2Fadmin' } }).allowed, true);
  });

  it('requires an authenticated request principal for requestPrincipals "*" and lets notRequestPrincipals deny tokenless requests', () => {
    const auth = { principal: 'https://issuer.example/alice', audiences: ['api'], claims: {} };
    const allow = check(['  action: ALLOW\n  rules: [{from: [{source: {requestPrincipals: ["*"]}}]}]\n']);
    assert.equal(allow().allowed, false);
    assert.equal(allow({ auth }).allowed, true);
    const deny = check(['  action: DENY\n  rules: [{from: [{source: {notRequestPrincipals: ["*"]}}]}]\n']);
    assert.equal(deny().policy, 'demo/p0');
    assert.equal(deny({ auth }).allowed, true);
  });

  it('splits request principals at the last slash as Istio does', () => {
    const auth = (principal: string) => ({ auth: { principal, audiences: [], claims: {} } });
    const c = check(['  action: ALLOW\n  rules: [{from: [{source: {requestPrincipals: ["https://issuer.example/alice", "*/bob", "https://other.example/*", "*carol"], notRequestPrincipals: ["https://issuer.example/mallory"]}}]}]\n']);
    assert.equal(c(auth('https://issuer.example/alice')).allowed, true);
    assert.equal(c(auth('https://any.example/bob')).allowed, true);
    assert.equal(c(auth('https://other.example/dave')).allowed, true);
    assert.equal(c(auth('https://x.example/xcarol')).allowed, true);
    assert.equal(c(auth('https://issuer.example/alice2')).allowed, false);
    assert.equal(c(auth('https://issuer.example/mallory')).allowed, false);
  });

  it('drops nothing at the waypoint that ztunnel would drop: the same policy decides differently with L7 visible', () => {
    const { list } = policies('  action: DENY\n  rules: [{from: [{source: {namespaces: [other]}}], to: [{operation: {paths: [/admin]}}]}]\n');
    const conn = { sourceIdentity: other, sourceIp: '10.0.0.9', destinationIp: '10.96.0.10', destinationPort: 80 };
    const auth = { name: 'demo/p0', namespace: 'demo', scope: 'NAMESPACE' as const, action: 'DENY' as const, dryRun: false, rules: list[0]!.spec.rules.map((rule) => ({ rule, needsL7: true })) };
    assert.equal(evaluate([auth], conn).allowed, false, 'ztunnel drops the path and denies the namespace');
    assert.equal(evaluateHttp(list, request({ sourceIdentity: other, http: { path: '/public' } })).allowed, true);
    assert.equal(evaluateHttp(list, request({ sourceIdentity: other, http: { path: '/admin' } })).allowed, false);
  });
});
