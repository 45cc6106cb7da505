// `ambit x authz check`: the decision ztunnel (L4) or the waypoint (L7) would make, explained
// without traffic, run as the real CLI process against a mesh file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleMesh } from '../support/ztunnel-harness.js';

const cli = new URL('../../cli/ambit.js', import.meta.url).pathname;
const policies = `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}], to: [{operation: {ports: ["8080"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-other, namespace: demo}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [other]}}]}]
`;

const waypointMesh = `
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: echo, namespace: demo, annotations: {istio.io/for-service-account: echo}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin, "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-l7, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: echo}]
  action: ALLOW
  rules:
  - from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]
    to: [{operation: {methods: [GET]}}]
  - from: [{source: {requestPrincipals: ["https://issuer.example/*"]}}]
    to: [{operation: {methods: [POST], paths: [/orders]}}]
    when: [{key: "request.auth.claims[roles]", values: [writer]}, {key: "request.headers[x-tenant]", values: [acme]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-waypoint, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: not-this-one}]
  action: DENY
  rules: [{}]
`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'x', 'authz', 'check', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('ambit x authz check', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ambit-authz-'));
    config = join(dir, 'mesh.yaml');
    await writeFile(config, sampleMesh('127.80', policies));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const check = (request: unknown) => run(['--config', config, '--at', 'ztunnel', '--request', JSON.stringify(request)]);

  test('ALLOW names the policy that allowed it', async () => {
    const r = await check({ source: { principal: 'spiffe://cluster.local/ns/demo/sa/client', ip: '127.80.1.10' }, destination: { workload: 'demo/echo-v1', port: 8080 } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { decision: 'ALLOW', policy: 'demo/echo-allow-client', reason: 'allowed by ALLOW policy demo/echo-allow-client' });
  });

  test('DENY by an explicit DENY policy, by no matching ALLOW, and for plaintext', async () => {
    const denied = JSON.parse((await check({ source: { principal: 'spiffe://cluster.local/ns/other/sa/intruder' }, destination: { ip: '127.80.2.10', port: 8080 } })).stdout);
    assert.deepEqual(denied, { decision: 'DENY', policy: 'demo/deny-other', reason: 'denied by DENY policy demo/deny-other' });
    const wrongPort = await check({ source: { principal: 'spiffe://cluster.local/ns/demo/sa/client' }, destination: { workload: 'demo/echo-v1', port: 9999 } });
    assert.equal(wrongPort.code, 0);
    assert.equal(JSON.parse(wrongPort.stdout).decision, 'DENY');
    assert.equal(JSON.parse(wrongPort.stdout).policy, null);
    const plaintext = JSON.parse((await check({ source: { principal: null, ip: '10.0.0.9' }, destination: { workload: 'demo/echo-v1', port: 8080 } })).stdout);
    assert.equal(plaintext.decision, 'DENY');
  });

  test('invalid input exits 2 with a message', async () => {
    for (const req of ['not json', JSON.stringify({ destination: { workload: 'demo/nope', port: 80 } }), JSON.stringify({ source: { principal: 'spiffe://x/y' }, destination: { workload: 'demo/echo-v1', port: 8080 } }), JSON.stringify({ destination: { workload: 'demo/echo-v1' } })]) {
      const r = await run(['--config', config, '--request', req]);
      assert.equal(r.code, 2, `${req}: ${r.stdout}`);
      assert.match(r.stderr, /ambit x authz check: /);
      assert.equal(r.stdout, '');
    }
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'apiVersion: v1\nkind: Pod\nmetadata: {name: [}\n');
    const r = await run(['--config', broken, '--request', JSON.stringify({ destination: { ip: '1.2.3.4', port: 1 } })]);
    assert.equal(r.code, 2);
  });
});

describe('ambit x authz check --at waypoint', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ambit-authz-wp-'));
    config = join(dir, 'mesh.yaml');
    await writeFile(config, sampleMesh('127.81', waypointMesh));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const client = { principal: 'spiffe://cluster.local/ns/demo/sa/client', ip: '127.81.1.10' };
  const check = async (request: unknown) => {
    const r = await run(['--config', config, '--at', 'waypoint', '--request', JSON.stringify(request)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  test('ALLOW names the policy attached to the waypoint Gateway', async () => {
    assert.deepEqual(await check({ source: client, destination: { service: 'demo/echo', port: 80 }, http: { method: 'GET', path: '/orders' } }),
      { decision: 'ALLOW', policy: 'demo/echo-l7', reason: 'allowed by ALLOW policy demo/echo-l7' });
  });

  test('DENY names the Service-attached DENY policy, also for a path that normalizes to it', async () => {
    for (const path of ['/admin', '/public/../admin', '//admin/x', '/%61dmin']) {
      assert.deepEqual(await check({ source: client, destination: { service: 'echo.demo.svc.cluster.local', port: 80 }, http: { method: 'GET', path } }),
        { decision: 'DENY', policy: 'demo/deny-admin', reason: 'denied by DENY policy demo/deny-admin' }, path);
    }
  });

  test('pod-addressed traffic skips the Service policy but keeps the Gateway policy', async () => {
    const r = await check({ source: client, destination: { workload: 'demo/echo-v1', port: 8080 }, http: { path: '/admin' } });
    assert.deepEqual(r, { decision: 'ALLOW', policy: 'demo/echo-l7', reason: 'allowed by ALLOW policy demo/echo-l7' });
    const other = await check({ source: { principal: 'spiffe://cluster.local/ns/other/sa/intruder' }, destination: { workload: 'demo/echo-v1', port: 8080 } });
    assert.deepEqual(other, { decision: 'DENY', policy: null, reason: 'ALLOW policies apply but none matched: denied' });
  });

  test('a JWT with the right claim and header is allowed; without them it is not', async () => {
    const base = { source: { principal: null, ip: '10.9.9.9' }, destination: { service: 'demo/echo', port: 80 } };
    const auth = { principal: 'https://issuer.example/alice', audiences: ['echo'], claims: { roles: ['reader', 'writer'] } };
    const http = { method: 'POST', path: '/orders?id=1', host: 'echo.demo:80', headers: [['X-Tenant', 'other'], ['x-tenant', 'acme']] };
    assert.equal((await check({ ...base, http, auth })).decision, 'ALLOW');
    assert.equal((await check({ ...base, http, auth: { ...auth, claims: { roles: ['reader'] } } })).decision, 'DENY');
    assert.equal((await check({ ...base, http: { ...http, headers: [] }, auth })).decision, 'DENY');
    assert.equal((await check({ ...base, http })).decision, 'DENY');
  });

  test('a request refused before authorization is a DENY with the 400 reason', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ method: 'get', path: '/' }, /^refused before authorization: 400 the method must be upper-case$/],
      [{ method: 'GET', path: '/a\u0000b' }, /^refused before authorization: 400 the path has a forbidden character \(0x00\)$/],
      [{ method: 'GET', path: '/a%zz' }, /^refused before authorization: 400 invalid percent-encoding/],
      [{ method: 'GET', path: '/', host: 'user@echo' }, /userinfo/],
    ];
    for (const [http, reason] of cases) {
      const r = await check({ source: client, destination: { service: 'demo/echo', port: 80 }, http });
      assert.equal(r.decision, 'DENY');
      assert.equal(r.policy, null);
      assert.match(String(r.reason), reason);
    }
  });

  test('invalid input exits 2 with a message', async () => {
    const bad = [
      'not json',
      JSON.stringify({ destination: { service: 'demo/nope', port: 80 } }),
      JSON.stringify({ destination: { workload: 'demo/client-7d9f8b6c5d-x2x4q', port: 80 } }),
      JSON.stringify({ destination: { service: 'demo/echo', port: 80 }, http: { headers: [['only-name']] } }),
      JSON.stringify({ destination: { service: 'demo/echo', port: 80 }, http: { method: 7 } }),
      JSON.stringify({ destination: { service: 'demo/echo', port: 80 }, auth: { principal: 'no-slash' } }),
      JSON.stringify({ destination: { service: 'demo/echo', port: 80 }, auth: { principal: 'i/s', claims: [] } }),
      JSON.stringify({ destination: { service: 'demo/echo' } }),
    ];
    for (const req of bad) {
      const r = await run(['--config', config, '--at', 'waypoint', '--request', req]);
      assert.equal(r.code, 2, `${req}: ${r.stdout}`);
      assert.match(r.stderr, /ambit x authz check: /);
      assert.equal(r.stdout, '');
    }
    const r = await run(['--config', config, '--at', 'sidecar', '--request', '{}']);
    assert.equal(r.code, 2);
  });
});
