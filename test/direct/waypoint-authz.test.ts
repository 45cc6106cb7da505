// Direct tier: authorization at the waypoint (issue 5, Security) — policies attached by targetRefs
// (the destination Service, the waypoint Gateway), full L7 attributes, normalized paths, 403 with
// a short body and the policy named in the log, L4-only evaluation for TCP. Addresses 127.87.x.y.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { httpOver, rawHttp, waypointScene } from '../support/waypoint-harness.js';
import { exchange } from '../support/ztunnel-harness.js';

const policies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-client-gets, namespace: demo}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: echo}]
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/demo/sa/client"]}}]
    to: [{operation: {methods: [GET], paths: ["/api/*", "/admin*"]}}]
    when: [{key: "request.headers[x-team]", values: [blue]}]
`;
const mesh = waypointMesh('127.87', policies);

describe('authorization at the waypoint (direct tier)', () => {
  const scene = waypointScene(mesh);

  const connect = () => scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });
  const request = (path: string, headers: Record<string, string> = {}, method = 'GET') => httpOver(connect(), { path, headers, method });
  const served = (): number => scene.echoes.reduce((n, e) => n + e.requests.length, 0);

  it('allows what an ALLOW policy on the waypoint Gateway matches: principal, method, path and header', async () => {
    const r = await request('/api/items?x=1', { 'x-team': 'blue' });
    assert.equal(r.status, 200, r.body);
  });

  it('denies with 403, a short body naming no internals, and the policy in the log', async () => {
    const before = served();
    for (const [path, headers, method] of [
      ['/api/items', { 'x-team': 'red' }, 'GET'],
      ['/api/items', { 'x-team': 'blue' }, 'POST'],
      ['/other', { 'x-team': 'blue' }, 'GET'],
    ] as const) {
      const r = await request(path, headers, method);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.body, 'RBAC: access denied');
    }
    assert.equal(served(), before, 'nothing denied reached a backend');
    const line = scene.wp.logs.find('request', (l) => l['response_code'] === 403 && l['path'] === '/other')[0];
    assert.equal(line?.['reason'], 'not_allowed');
  });

  it('checks each value of a repeated header on its own', async () => {
    const r = await rawHttp(connect(), 'GET /api/x HTTP/1.1\r\nHost: echo\r\nX-Team: red\r\nX-Team: blue\r\nConnection: close\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 200 /, 'one of the values is blue');
  });

  it('applies a DENY on the destination Service before any ALLOW, also to paths that normalize onto it', async () => {
    for (const path of ['/admin', '/admin/users', '/api/../admin', '//admin', '/%61dmin', '/api/%2e%2e/admin']) {
      const r = await request(path, { 'x-team': 'blue' });
      assert.equal(r.status, 403, `${path}: ${r.status}`);
    }
    const line = scene.wp.logs.find('request', (l) => l['path'] === '/api/../admin')[0];
    assert.equal(line?.['policy'], 'demo/no-admin');
  });

  it('refuses a path that cannot be normalized with 400 before authorization', async () => {
    const r = await rawHttp(connect(), 'GET /api/%00x HTTP/1.1\r\nHost: echo\r\nX-Team: blue\r\nConnection: close\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 400 /);
  });

  it('evaluates TCP tunnels with L4 policy only: an ALLOW whose rules need HTTP never matches, so TCP is denied', async () => {
    const tcp = [await scene.cluster.startApp(mesh.ips.v1, 9000), await scene.cluster.startApp(mesh.ips.v2, 9000)];
    try {
      const r = await exchange(scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 9000 }), 'tcp payload\n');
      assert.equal(r.data.length, 0);
      assert.equal(tcp[0]!.accepted() + tcp[1]!.accepted(), 0);
      assert.ok(scene.wp.logs.find('connection failed', (l) => String(l['error']).startsWith('denied')).length >= 1);
    } finally {
      await Promise.all(tcp.map((a) => a.close()));
    }
  });
});
