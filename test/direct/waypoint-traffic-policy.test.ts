// Direct tier: traffic policy at the waypoint (issue 5, "Routing and traffic policy") — timeouts,
// retries (GEP-1731 and Istio retryOn), fault injection, DestinationRule load balancing,
// connection pools, outlier detection, and the local rate limit annotation. Faults are checked
// over enough requests with a seeded random source; echo pods fail or stall on demand.
// Addresses 127.89.x.y.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { afterEach, describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { seededRandom } from '../../shared/seeded-random.js';
import { httpOver, startEcho, waypointScene, type HttpReply } from '../support/waypoint-harness.js';

const vips = { hrt: 21, vsr: 22, rr: 23, rnd: 24, lr: 25, hash: 26, pool: 27, outlier: 28, rl: 29, rlvs: 30, grpc: 31 } as const;
type Svc = keyof typeof vips;
const service = (name: Svc, port = '{name: http, port: 80, targetPort: http}') =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: demo}\nspec: {clusterIP: 10.96.89.${vips[name]}, selector: {app: echo}, ports: [${port}]}\n`;
const destinationRule = (host: Svc, policy: string) =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${host}, namespace: demo}\nspec:\n  host: ${host}.demo.svc.cluster.local\n  trafficPolicy: ${policy}\n`;
const vsRule = (path: string, body: string) => `  - {match: [{uri: {prefix: ${path}}}], route: [{destination: {host: vsr}}], ${body}}\n`;

const extra = [
  ...(['hrt', 'vsr', 'rr', 'rnd', 'lr', 'hash', 'pool', 'outlier', 'rl', 'rlvs'] as const).map((s) => service(s)),
  service('grpc', '{name: grpc, port: 9090, targetPort: 9090, appProtocol: grpc}'),
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hrt, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: hrt}]
  rules:
  - {matches: [{path: {type: PathPrefix, value: /timeout}}], timeouts: {request: 200ms}, backendRefs: [{name: hrt, port: 80}]}
  - {matches: [{path: {type: PathPrefix, value: /retry}}], retry: {codes: [503], attempts: 2, backoff: 5ms}, backendRefs: [{name: hrt, port: 80}]}
  - {matches: [{path: {type: PathPrefix, value: /backend-timeout}}], timeouts: {request: 2s, backendRequest: 150ms}, backendRefs: [{name: hrt, port: 80}]}
  - {matches: [{path: {type: PathPrefix, value: /once}}], retry: {attempts: 0}, backendRefs: [{name: hrt, port: 80}]}
`,
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vsr, namespace: demo}
spec:
  hosts: [vsr.demo.svc.cluster.local]
  http:
${vsRule('/retry-5xx', 'retries: {attempts: 2, retryOn: 5xx}')}${vsRule('/retry-gw', 'retries: {attempts: 2, retryOn: gateway-error}')}${vsRule('/retry-4xx', 'retries: {attempts: 2, retryOn: retriable-4xx}')}${vsRule('/retry-connect', 'retries: {attempts: 3, retryOn: connect-failure}')}${vsRule('/no-retry', 'retries: {attempts: 0}')}${vsRule('/per-try', 'retries: {attempts: 2, perTryTimeout: 100ms, retryOn: 5xx}, timeout: 3s')}${vsRule('/timeout', 'timeout: 200ms')}${vsRule('/delay', 'fault: {delay: {fixedDelay: 500ms, percentage: {value: 50}}}')}${vsRule('/abort', 'fault: {abort: {httpStatus: 418, percentage: {value: 30}}}')}`,
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc, namespace: demo}
spec:
  hosts: [grpc.demo.svc.cluster.local]
  http: [{fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}, route: [{destination: {host: grpc}}]}]
`,
  destinationRule('rr', '{loadBalancer: {simple: ROUND_ROBIN}}'),
  destinationRule('rnd', '{loadBalancer: {simple: RANDOM}}'),
  destinationRule('lr', '{loadBalancer: {simple: LEAST_REQUEST}}'),
  destinationRule('hash', '{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}'),
  destinationRule('pool', '{connectionPool: {http: {http2MaxRequests: 1, http1MaxPendingRequests: 1}}}'),
  destinationRule('outlier', '{loadBalancer: {simple: ROUND_ROBIN}, outlierDetection: {consecutive5xxErrors: 2, interval: 50ms, baseEjectionTime: 30s, maxEjectionPercent: 100}}'),
  `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: rl, namespace: demo, annotations: {ambit.io/local-rate-limit: "3/m"}}
spec:
  parentRefs: [{group: "", kind: Service, name: rl}]
  rules: [{backendRefs: [{name: rl, port: 80}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: rlvs, namespace: demo, annotations: {ambit.io/local-rate-limit: "2/m; burst=4"}}
spec:
  hosts: [rlvs.demo.svc.cluster.local]
  http: [{route: [{destination: {host: rlvs}}]}]
`,
].join('---\n');
const mesh = waypointMesh('127.89', extra);

describe('traffic policy at the waypoint (direct tier)', () => {
  const scene = waypointScene(mesh, { random: seededRandom(89) });

  afterEach(() => {
    for (const e of scene.echoes) e.behave({});
  });

  const send = (svc: Svc, path: string, headers: Record<string, string> = {}): Promise<HttpReply> =>
    httpOver(scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: `10.96.89.${vips[svc]}`, port: 80 }), { path, headers, host: `${svc}.demo.svc.cluster.local` });
  const statuses = async (svc: Svc, path: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await send(svc, `${path}/${i}`)).status);
    return out;
  };
  const timed = async (svc: Svc, path: string): Promise<{ reply: HttpReply; ms: number }> => {
    const t0 = performance.now();
    const reply = await send(svc, path);
    return { reply, ms: performance.now() - t0 };
  };
  const hits = (prefix: string): number => scene.echoes.reduce((n, e) => n + e.requests.filter((q) => q.path.startsWith(prefix)).length, 0);
  const behaveAll = (b: { status?: number; delayMs?: number; failEvery?: number }): void => scene.echoes.forEach((e) => e.behave(b));
  const near = (observed: number, n: number, p: number, what: string): void => {
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(observed - n * p) <= 4 * sd, `${what}: ${observed} of ${n}, expected ≈ ${n * p} ± ${Math.round(4 * sd)}`);
  };
  const count = (xs: readonly number[], v: number): number => xs.filter((x) => x === v).length;

  describe('timeouts and retries', () => {
    it('cuts a slow backend with the HTTPRoute request timeout: 504 well before the backend answers', async () => {
      behaveAll({ delayMs: 1_000 });
      const { reply, ms } = await timed('hrt', '/timeout');
      assert.equal(reply.status, 504);
      assert.ok(ms >= 180 && ms < 900, `took ${Math.round(ms)} ms`);
      const line = scene.wp.logs.find('request', (l) => l['path'] === '/timeout')[0];
      assert.match(String(line?.['response_flags']), /UT/);
    });

    it('masks a backend failing every other request with HTTPRoute retry codes (GEP-1731), and not without retries', async () => {
      behaveAll({ status: 503, failEvery: 2 });
      assert.deepEqual(await statuses('hrt', '/retry', 12), Array(12).fill(200));
      behaveAll({ status: 503, failEvery: 2 });
      assert.ok(count(await statuses('hrt', '/once', 12), 503) >= 4, 'attempts: 0 lets the failures through');
    });

    it('retries 5xx, gateway-error (502/503/504 only) and retriable-4xx (409 only) as the VirtualService says', async () => {
      behaveAll({ status: 500, failEvery: 2 });
      assert.deepEqual(await statuses('vsr', '/retry-5xx', 10), Array(10).fill(200));
      behaveAll({ status: 500, failEvery: 2 });
      assert.ok(count(await statuses('vsr', '/retry-gw', 10), 500) >= 3, 'gateway-error does not retry a 500');
      behaveAll({ status: 502, failEvery: 2 });
      assert.deepEqual(await statuses('vsr', '/retry-gw', 10), Array(10).fill(200));
      behaveAll({ status: 409, failEvery: 2 });
      assert.deepEqual(await statuses('vsr', '/retry-4xx', 10), Array(10).fill(200));
      behaveAll({ status: 404, failEvery: 2 });
      assert.ok(count(await statuses('vsr', '/retry-4xx', 10), 404) >= 3, 'retriable-4xx retries only 409');
      behaveAll({ status: 503, failEvery: 2 });
      assert.ok(count(await statuses('vsr', '/no-retry', 10), 503) >= 3, 'attempts: 0 lets the failures through');
    });

    it('retries connect failures onto the endpoint that is up', async () => {
      await scene.echoes[0]!.close();
      try {
        const r = await statuses('vsr', '/retry-connect', 8);
        assert.deepEqual(r, Array(8).fill(200));
        assert.ok(count(await statuses('vsr', '/no-retry', 16), 503) >= 2, 'without retries the refused connections show');
      } finally {
        scene.echoes[0] = await startEcho('echo-v1', mesh.ips.v1, 8080);
      }
    });

    it('cuts each try at the HTTPRoute backendRequest timeout, inside the request timeout', async () => {
      behaveAll({ delayMs: 1_000 });
      const { reply, ms } = await timed('hrt', '/backend-timeout');
      assert.equal(reply.status, 504);
      assert.ok(ms >= 130 && ms < 700, `took ${Math.round(ms)} ms`);
    });

    it('gives each try its perTryTimeout and stops after the attempts: 504 after three tries', async () => {
      behaveAll({ delayMs: 600 });
      const { reply, ms } = await timed('vsr', '/per-try');
      assert.equal(reply.status, 504);
      assert.ok(ms >= 280 && ms < 1_500, `took ${Math.round(ms)} ms`);
      assert.equal(hits('/per-try'), 3, 'first try and two retries');
    });

    it('cuts a slow backend with the VirtualService timeout', async () => {
      behaveAll({ delayMs: 1_000 });
      const { reply, ms } = await timed('vsr', '/timeout');
      assert.equal(reply.status, 504);
      assert.ok(ms >= 180 && ms < 900, `took ${Math.round(ms)} ms`);
    });
  });

  describe('fault injection', () => {
    it('delays fixedDelay for about the configured percentage of requests (seeded, 60 requests)', async () => {
      // Batches of 10 concurrent requests keep this short. The access log's DI flag names the
      // delayed requests; the client's own clock shows they took fixedDelay and the rest did not.
      const times = new Map<string, number>();
      for (let b = 0; b < 6; b++) {
        const batch = await Promise.all(Array.from({ length: 10 }, async (_, i) => ({ path: `/delay/${b}-${i}`, ...(await timed('vsr', `/delay/${b}-${i}`)) })));
        for (const { path, reply, ms } of batch) {
          assert.equal(reply.status, 200);
          times.set(path, ms);
        }
      }
      const injected = new Set(scene.wp.logs.find('request', (l) => String(l['path']).startsWith('/delay/') && String(l['response_flags']).includes('DI')).map((l) => String(l['path'])));
      near(injected.size, 60, 0.5, 'delayed requests');
      for (const [path, ms] of times) {
        if (injected.has(path)) assert.ok(ms >= 500, `${path} was delayed only ${Math.round(ms)} ms`);
        else assert.ok(ms < 500, `${path} took ${Math.round(ms)} ms without a delay`);
      }
    });

    it('aborts with httpStatus for about the configured percentage, and aborted requests reach no backend (seeded, 300 requests)', async () => {
      const before = hits('/abort');
      const r = await statuses('vsr', '/abort', 300);
      const aborted = count(r, 418);
      near(aborted, 300, 0.3, 'aborted requests');
      assert.equal(aborted + count(r, 200), 300);
      assert.equal(hits('/abort') - before, 300 - aborted);
      const line = scene.wp.logs.find('request', (l) => l['response_code'] === 418)[0];
      assert.match(String(line?.['response_flags']), /FI/);
    });

    // Regression: the status name (UNAVAILABLE) was turned into a number with Number(): grpc-status NaN.
    it('aborts a gRPC call with grpcStatus: HTTP 200 with grpc-status 14', async () => {
      const socket = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: `10.96.89.${vips.grpc}`, port: 9090 });
      const session = http2.connect('http://grpc.demo.svc.cluster.local:9090', { createConnection: () => socket });
      session.on('error', () => undefined);
      try {
        const reply = await new Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
          const req = session.request({ ':method': 'POST', ':path': '/echo.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' });
          let headers: http2.IncomingHttpHeaders = {};
          let trailers: http2.IncomingHttpHeaders = {};
          req.on('response', (h) => (headers = h));
          req.on('trailers', (t) => (trailers = t));
          req.on('data', () => undefined);
          req.on('end', () => resolve({ headers, trailers }));
          req.on('error', reject);
          req.end(Buffer.from([0, 0, 0, 0, 0]));
        });
        assert.equal(reply.headers[':status'], 200);
        assert.equal(reply.headers['grpc-status'] ?? reply.trailers['grpc-status'], '14');
      } finally {
        session.destroy();
      }
    });
  });

  describe('DestinationRule', () => {
    const pods = async (svc: Svc, n: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await send(svc, `/${svc}/${i}`, headers(i))).echo?.pod ?? 'none');
      return out;
    };

    it('alternates endpoints with ROUND_ROBIN', async () => {
      const seq = await pods('rr', 10);
      for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], seq.join(' '));
    });

    it('spreads requests about evenly with RANDOM (seeded, 200 requests)', async () => {
      near(count((await pods('rnd', 200)).map((p) => (p === 'echo-v1' ? 1 : 0)), 1), 200, 0.5, 'echo-v1 share');
    });

    it('prefers the endpoint with fewer requests in flight with LEAST_REQUEST', async () => {
      scene.echoes[0]!.behave({ delayMs: 1_000 });
      const replies: Promise<HttpReply>[] = [];
      for (let i = 0; i < 40; i++) {
        replies.push(send('lr', `/lr/${i}`));
        await new Promise((r) => setTimeout(r, 20));
      }
      const answered = (await Promise.all(replies)).map((r) => r.echo?.pod);
      assert.ok(answered.filter((p) => p === 'echo-v2').length >= 26, `echo-v2 answered ${answered.filter((p) => p === 'echo-v2').length} of 40`);
    });

    it('sends the same consistentHash header value to the same pod every time, and spreads different values', async () => {
      for (const user of ['alice', 'bob']) assert.equal(new Set(await pods('hash', 10, () => ({ 'x-user': user }))).size, 1, user);
      assert.equal(new Set(await pods('hash', 20, (i) => ({ 'x-user': `user-${i}` }))).size, 2);
    });

    it('answers 503 with response flag UO when the connection pool overflows', async () => {
      behaveAll({ delayMs: 400 });
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => send('pool', `/pool/${i}`)));
      const codes = replies.map((r) => r.status);
      assert.ok(count(codes, 503) >= 1 && count(codes, 200) >= 1, codes.join(' '));
      const overflowed = scene.wp.logs.find('request', (l) => String(l['path']).startsWith('/pool/') && l['response_code'] === 503);
      assert.ok(overflowed.length >= 1 && overflowed.every((l) => String(l['response_flags']).includes('UO')), JSON.stringify(overflowed));
    });

    it('ejects a pod after consecutive 5xx errors and sends later requests to the other pod', async () => {
      scene.echoes[0]!.behave({ status: 500 });
      const seq = await pods('outlier', 20);
      const failed = scene.echoes[0]!.requests.filter((q) => q.path.startsWith("/outlier/")).length;
      assert.ok(seq.slice(-12).every((p) => p === 'echo-v2'), seq.join(' '));
      assert.ok(failed >= 2, `echo-v1 saw ${failed}`);
    });
  });

  describe('local rate limit (ambit.io/local-rate-limit)', () => {
    it('answers 429 once an HTTPRoute rule has used its burst', async () => {
      assert.deepEqual(await statuses('rl', '/rl', 5), [200, 200, 200, 429, 429]);
    });

    it('answers 429 once a VirtualService rule has used its burst', async () => {
      assert.deepEqual(await statuses('rlvs', '/rl', 6), [200, 200, 200, 200, 429, 429]);
    });
  });
});
