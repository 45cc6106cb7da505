// Issue 5, "What must be shown", in the netns tier: client pod → service with a waypoint → two
// versions of a backend on two nodes, all real processes (`ambit controlplane`, one `ambit
// ztunnel` per node with iptables capture, `ambit waypoint` in its own pod namespace, not
// captured) with the L7 config pushed through the control plane: canary 90/10, header routing,
// retries masking a backend that fails every other request, a route timeout cutting a slow
// backend, a denied path (403), a JWT-protected path (401 without or with a bad token, 200 with a
// good one), and Istio's HTTP metrics with reporter `waypoint` scraped from :15020.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AmbitProcess, ambitCli } from '../support/ambit-process.js';
import { MeshApp, type HttpBatchResult } from '../support/mesh-app-client.js';
import { netnsSkip, sweepStaleNamespaces, Topology } from '../support/netns.js';
import { metricValue } from '../support/ztunnel-harness.js';

const skip = netnsSkip();
const nodeIp = { 'node-1': '10.14.0.1', 'node-2': '10.14.0.2' } as const;
const ip = { client: '10.14.1.2', v1: '10.14.1.3', v2: '10.14.2.2', waypoint: '10.14.2.3' } as const;
const vip = '10.14.96.10';
const url = (path: string): string => `http://${vip}/${path.replace(/^\//, '')}`;

const pod = (name: string, node: string, podIp: string, sa: string, labels: string, ports = ''): string => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {${labels}}}
spec: {nodeName: ${node}, serviceAccountName: ${sa}, containers: [{name: c${ports ? `, ports: [${ports}]` : ''}}]}
status: {podIP: ${podIp}, podIPs: [{ip: ${podIp}}], conditions: [{type: Ready, status: "True"}]}
---`;

/** An EC P-256 key pair and its JWKS, for minting tokens the waypoint verifies. */
function jwtIssuer(): { jwks: string; mint(claims: Record<string, unknown>): string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'k1', alg: 'ES256', use: 'sig' };
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const mint = (claims: Record<string, unknown>, key: KeyObject = privateKey): string => {
    const input = `${b64({ alg: 'ES256', kid: 'k1', typ: 'JWT' })}.${b64(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
  return { jwks: JSON.stringify({ keys: [jwk] }), mint };
}

const issuer = jwtIssuer();
const now = (): number => Math.floor(Date.now() / 1000);

const meshYaml = `
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---${pod('client', 'node-1', ip.client, 'client', 'app: client')}${pod('echo-v1', 'node-1', ip.v1, 'echo', 'app: echo, version: v1', '{name: http, containerPort: 8080}')}${pod('echo-v2', 'node-2', ip.v2, 'echo', 'app: echo, version: v2', '{name: http, containerPort: 8080}')}${pod('echo-istio-waypoint-0', 'node-2', ip.waypoint, 'echo-istio-waypoint', 'app: echo-istio-waypoint, istio.io/dataplane-mode: none')}
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec: {clusterIP: ${vip}, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: http}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo-istio-waypoint, namespace: demo}
spec: {clusterIP: 10.14.96.50, selector: {app: echo-istio-waypoint}, ports: [{name: mesh, port: 15008}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: echo, namespace: demo, annotations: {istio.io/for-service-account: echo}}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo]
  http:
  - name: header-to-v2
    match: [{headers: {x-canary: {exact: v2}}}]
    route: [{destination: {host: echo, subset: v2}}]
  - name: flaky
    match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: echo}}]
  - name: slow
    match: [{uri: {prefix: /slow}}]
    timeout: 500ms
    retries: {attempts: 0}
    route: [{destination: {host: echo}}]
  - name: canary
    route:
    - {destination: {host: echo, subset: v1}, weight: 90}
    - {destination: {host: echo, subset: v2}, weight: 10}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: echo-jwt, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  jwtRules:
  - issuer: https://issuer.ambit.test
    audiences: [echo]
    jwks: '${issuer.jwks}'
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: secure-needs-jwt, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: echo}]
  action: DENY
  rules: [{from: [{source: {notRequestPrincipals: ["*"]}}], to: [{operation: {paths: ["/secure", "/secure/*"]}}]}]
`;

describe('a waypoint in a two-node Ambit cluster: routing, resilience and L7 policy through real processes', { skip, timeout: 120_000 }, () => {
  let topo: Topology;
  let dir: string;
  let cp: AmbitProcess;
  let waypoint: AmbitProcess;
  const ztunnels: AmbitProcess[] = [];
  const apps = {} as Record<keyof typeof ip | 'node-2-agent', MeshApp>;

  const batch = (path: string, count: number, headers?: Record<string, string>, concurrency = 4): Promise<HttpBatchResult> =>
    apps.client.httpBatch(url(path), { count, concurrency, timeoutMs: 5000, ...(headers ? { headers } : {}) });
  const detail = (): string => `waypoint:\n${waypoint.tail(15)}`;

  before(async () => {
    sweepStaleNamespaces();
    topo = new Topology();
    const node1 = topo.addNode('node1', nodeIp['node-1']);
    const node2 = topo.addNode('node2', nodeIp['node-2']);
    topo.linkNodes('node1', 'node2');
    const podNs = {
      client: topo.addPod('node1', 'client', ip.client).ns,
      v1: topo.addPod('node1', 'v1', ip.v1).ns,
      v2: topo.addPod('node2', 'v2', ip.v2).ns,
      waypoint: topo.addPod('node2', 'waypoint', ip.waypoint).ns,
    };
    dir = mkdtempSync(join(tmpdir(), 'ambit-wp-cluster-'));
    const meshDir = join(dir, 'mesh');
    mkdirSync(meshDir);
    writeFileSync(join(dir, 'core.tmp'), meshYaml);
    renameSync(join(dir, 'core.tmp'), join(meshDir, 'core.yaml'));
    const caDir = join(dir, 'ca');
    const init = spawnSync(process.execPath, [ambitCli, 'ca', 'init', '--dir', caDir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(init.status, 0, `ambit ca init: ${init.stderr}`);
    const token = (): string => randomBytes(24).toString('hex');
    const tokens = { 'node-1': token(), 'node-2': token(), waypoint: token() };
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:
  - {token: "${tokens['node-1']}", kind: ztunnel, node: node-1}
  - {token: "${tokens['node-2']}", kind: ztunnel, node: node-2}
  - {token: "${tokens.waypoint}", kind: waypoint, identity: "spiffe://cluster.local/ns/demo/sa/echo-istio-waypoint"}
`);
    for (const [who, t] of Object.entries(tokens)) writeFileSync(join(dir, `${who}.token`), `${t}\n`, { mode: 0o600 });
    const controlPlane = `${nodeIp['node-1']}:15012`;
    cp = AmbitProcess.start(topo, node1.ns, 'controlplane', ['controlplane', '--source', `file:${meshDir}`, '--ca-dir', caDir, '--tokens', join(dir, 'tokens.yaml'), '--listen', controlPlane]);
    const started = Promise.all([
      MeshApp.start(topo, podNs.client, 'client', ip.client).then((a) => (apps.client = a)),
      MeshApp.start(topo, podNs.v1, 'echo-v1', ip.v1).then((a) => (apps.v1 = a)),
      MeshApp.start(topo, podNs.v2, 'echo-v2', ip.v2).then((a) => (apps.v2 = a)),
      MeshApp.start(topo, podNs.waypoint, 'waypoint-agent', ip.waypoint).then((a) => (apps.waypoint = a)),
    ]);
    started.catch(() => undefined);
    await cp.waitForLog('control plane ready', 20_000);
    const common = ['--control-plane', controlPlane, '--root-cert', join(caDir, 'root-cert.pem'), '--log-level', 'info'];
    for (const [node, ns] of [['node-1', node1.ns], ['node-2', node2.ns]] as const) {
      ztunnels.push(AmbitProcess.start(topo, ns, `ztunnel ${node}`, ['ztunnel', '--node', node, '--token-file', join(dir, `${node}.token`), '--drain', '1s', ...common]));
    }
    waypoint = AmbitProcess.start(topo, podNs.waypoint, 'waypoint', ['waypoint', '--gateway', 'demo/echo', '--token-file', join(dir, 'waypoint.token'), '--drain', '1s', ...common]);
    await started;
    await apps.v1.listen(8080, 'http-echo');
    await apps.v2.listen(8080, 'http-echo');
    const ready = async (app: MeshApp, at: string, proc: AmbitProcess): Promise<void> => {
      const deadline = Date.now() + 25_000;
      for (;;) {
        if (proc.exitReason() !== undefined) throw new Error(`${proc.name} ${proc.exitReason()}:\n${proc.tail()}`);
        const r = await app.httpGet(`http://${at}:15021/healthz/ready`, 1000);
        if (r.ok && r.status === 200) return;
        if (Date.now() > deadline) throw new Error(`${proc.name} not ready: ${r.ok ? r.body : r.error}\n${proc.tail()}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    await ready(apps.client, nodeIp['node-1'], ztunnels[0]!);
    await ready(apps.client, nodeIp['node-2'], ztunnels[1]!);
    await ready(apps.waypoint, ip.waypoint, waypoint);
  });

  after(async () => {
    await topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('splits 90/10 between v1 and v2 by the VirtualService weights', async () => {
    const r = await batch('/canary', 400);
    assert.deepEqual(r.statuses, { 200: 400 }, `${JSON.stringify(r)}\n${detail()}`);
    const v2 = r.pods['echo-v2'] ?? 0;
    // Binomial(400, 0.1): mean 40, sd 6; ±4 sd.
    assert.ok(v2 >= 16 && v2 <= 64, `v2 got ${v2} of 400`);
  });

  it('routes by header: x-canary: v2 always reaches v2', async () => {
    const r = await batch('/any', 40, { 'x-canary': 'v2' });
    assert.deepEqual(r.pods, { 'echo-v2': 40 }, JSON.stringify(r));
  });

  it('masks a backend that fails every other request with retries on 5xx', async () => {
    // One at a time, so each backend's every-other failure is deterministic: a failed try moves to
    // the other backend, and a third try is back on the first one, whose next answer succeeds.
    const r = await batch('/flaky?fail-every=2', 60, undefined, 1);
    assert.deepEqual(r.statuses, { 200: 60 }, JSON.stringify(r));
  });

  it('cuts a slow backend at the route timeout with 504', async () => {
    const started = Date.now();
    const r = await batch('/slow?delay-ms=3000', 4);
    assert.deepEqual(r.statuses, { 504: 4 }, JSON.stringify(r));
    assert.ok(Date.now() - started < 2500, `took ${Date.now() - started} ms`);
  });

  it('denies a path an AuthorizationPolicy forbids with 403', async () => {
    const r = await batch('/admin/users', 3);
    assert.deepEqual(r.statuses, { 403: 3 }, JSON.stringify(r));
    assert.equal(Object.keys(r.pods).length, 0, 'never reached a backend');
  });

  it('protects a path with JWT: 401 without a token or with a bad one, 200 with a good one', async () => {
    const good = issuer.mint({ iss: 'https://issuer.ambit.test', sub: 'alice', aud: 'echo', exp: now() + 600 });
    const wrongAudience = issuer.mint({ iss: 'https://issuer.ambit.test', sub: 'alice', aud: 'other', exp: now() + 600 });
    const tampered = `${good.slice(0, -4)}AAAA`;
    assert.deepEqual((await batch('/secure/data', 2)).statuses, { 401: 2 });
    assert.deepEqual((await batch('/secure/data', 2, { authorization: `Bearer ${tampered}` })).statuses, { 401: 2 });
    assert.deepEqual((await batch('/secure/data', 2, { authorization: `Bearer ${wrongAudience}` })).statuses, { 401: 2 });
    const ok = await batch('/secure/data', 2, { authorization: `Bearer ${good}` });
    assert.deepEqual(ok.statuses, { 200: 2 }, JSON.stringify(ok));
  });

  it('reports istio_requests_total with reporter waypoint on :15020', async () => {
    const r = await apps.waypoint.httpGet(`http://${ip.waypoint}:15020/metrics`, 2000);
    assert.ok(r.ok && r.status === 200, JSON.stringify(r).slice(0, 200));
    const body = r.ok ? r.body : '';
    const labels = { reporter: 'waypoint', destination_service: 'echo.demo.svc.cluster.local', source_principal: 'spiffe://cluster.local/ns/demo/sa/client' };
    assert.ok(metricValue(body, 'istio_requests_total', { ...labels, response_code: '200' }) >= 400, 'the canary requests were counted');
    assert.ok(metricValue(body, 'istio_requests_total', { ...labels, response_code: '403' }) >= 3);
    assert.ok(metricValue(body, 'istio_requests_total', { ...labels, response_code: '504', response_flags: 'UT' }) >= 4);
    assert.ok(metricValue(body, 'istio_request_duration_milliseconds_bucket', { ...labels, le: '+Inf' }) >= 400);
  });
});
