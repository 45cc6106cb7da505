// Direct tier: HTTP and TCP through a waypoint — client ztunnel → waypoint (HBONE, the original
// VIP:port as authority) → destination ztunnel (HBONE, from the waypoint's identity) → echo app.
// Addresses 127.81.x.y.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { httpOver, waypointScene } from '../support/waypoint-harness.js';
import { exchange, httpGet, metricValue } from '../support/ztunnel-harness.js';

const mesh = waypointMesh('127.81');

describe('waypoint traffic (direct tier)', () => {
  const scene = waypointScene(mesh);

  const get = (path: string, headers: Record<string, string> = {}) =>
    httpOver(scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 }), { path, headers });

  it('carries service traffic through the waypoint to both endpoints, with request id and trace headers', async () => {
    const pods = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await get(`/hello/${i}?q=1`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.echo?.path, `/hello/${i}?q=1`);
      assert.equal(r.echo?.method, 'GET');
      assert.match(String(r.echo?.headers['x-request-id']), /.{8,}/);
      assert.match(String(r.echo?.headers['traceparent']), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      pods.add(r.echo!.pod);
    }
    assert.deepEqual([...pods].sort(), ['echo-v1', 'echo-v2']);
    // The destination ztunnel saw the waypoint, not the client, as its mTLS peer.
    const inbound = scene.cluster.node('node-2').logs.lines.filter((l) => l['msg'] === 'connection complete' && String(l['src.identity']).endsWith('/sa/echo-istio-waypoint'));
    assert.ok(inbound.length > 0 || scene.cluster.node('node-2').logs.lines.some((l) => String(l['src.identity'] ?? '').endsWith('/sa/echo-istio-waypoint')), 'destination ztunnel logged the waypoint identity');
  });

  it('routes and forwards the normalized path (dot segments, merged slashes, unreserved escapes), query kept', async () => {
    const r = await get('/a/../b//c/%7Euser?x=/../y');
    assert.equal(r.status, 200);
    assert.equal(r.echo?.path, '/b/c/~user?x=/../y');
  });

  it('reuses upstream tunnels across requests (HTTP keep-alive inside HBONE)', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await get('/reuse')).status, 200);
    assert.ok(scene.wp.waypoint.upstream.openTunnels() <= 4, `tunnels: ${scene.wp.waypoint.upstream.openTunnels()}`);
  });

  it('closes an upstream tunnel after DestinationRule maxRequestsPerConnection requests', async () => {
    const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: echo, namespace: demo}\nspec: {host: echo, trafficPolicy: {connectionPool: {http: {maxRequestsPerConnection: 1}}}}\n';
    scene.cluster.apply(`${mesh.yaml}---\n${dr}`);
    try {
      const inbound = () => scene.cluster.node('node-2').logs.lines.filter((l) => l['msg'] === 'connection complete' && String(l['src.identity'] ?? '').endsWith('/sa/echo-istio-waypoint')).length;
      await new Promise((r) => setTimeout(r, 50));
      const before = inbound();
      for (let i = 0; i < 6; i++) assert.equal((await get('/one-per-tunnel')).status, 200);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(inbound() - before, 6, 'each request had a tunnel of its own, closed after its response');
    } finally {
      scene.cluster.apply(mesh.yaml);
    }
  });

  it('reports Istio HTTP metrics with reporter waypoint and the client and destination identities', async () => {
    await get('/metrics-check');
    const text = (await httpGet(scene.wp.waypoint.admin.ports.metrics!, '/metrics')).body;
    const n = metricValue(text, 'istio_requests_total', {
      reporter: 'waypoint',
      response_code: '200',
      source_principal: 'spiffe://cluster.local/ns/demo/sa/client',
      destination_service: 'echo.demo.svc.cluster.local',
      destination_principal: 'spiffe://cluster.local/ns/demo/sa/echo',
      request_protocol: 'http',
      connection_security_policy: 'mutual_tls',
    });
    assert.ok(n >= 1, text.split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n'));
    assert.ok(metricValue(text, 'istio_request_duration_milliseconds_count', { reporter: 'waypoint' }) >= 1);
    const line = scene.wp.logs.find('request', (l) => l['path'] === '/metrics-check')[0];
    assert.equal(line?.['response_code'], 200);
    assert.equal(line?.['src.identity'], 'spiffe://cluster.local/ns/demo/sa/client');
    assert.match(String(line?.['upstream_cluster']), /^outbound\|80\|\|echo\.demo\.svc\.cluster\.local$/);
  });

  it('carries pod-addressed traffic through the waypoint too', async () => {
    const r = await httpOver(scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.ips.v2, port: 8080 }), { path: '/direct-pod' });
    assert.equal(r.status, 200);
    assert.equal(r.echo?.pod, 'echo-v2');
    assert.ok(scene.wp.logs.find('request', (l) => l['path'] === '/direct-pod').length === 1, 'the waypoint handled it');
  });

  it('carries gRPC over HTTP/2 end to end, trailers (grpc-status) included, and labels the metric', async () => {
    const servers = await Promise.all([mesh.ips.v1, mesh.ips.v2].map((ip) => new Promise<http2.Http2Server>((resolve) => {
      const server = http2.createServer();
      server.on('stream', (stream, headers) => {
        stream.on('error', () => undefined);
        const fail = headers['x-fail'] === '1';
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': fail ? '14' : '0', 'grpc-message': fail ? 'unavailable' : 'ok' }));
        stream.resume();
        stream.on('end', () => stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01])));
      });
      server.listen(9090, ip, () => resolve(server));
    })));
    const socket = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 9090 });
    const session = http2.connect('http://echo.demo.svc.cluster.local:9090', { createConnection: () => socket });
    session.on('error', () => undefined);
    try {
      const call = (fail: boolean) => new Promise<{ status: number; trailers: http2.IncomingHttpHeaders; bytes: number }>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/echo.Echo/Say', 'content-type': 'application/grpc', te: 'trailers', ...(fail ? { 'x-fail': '1' } : {}) });
        let status = 0;
        let bytes = 0;
        let trailers: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('trailers', (t) => (trailers = t));
        req.on('data', (c: Buffer) => (bytes += c.length));
        req.on('end', () => resolve({ status, trailers, bytes }));
        req.on('error', reject);
        req.end(Buffer.from([0, 0, 0, 0, 0]));
      });
      const ok = await call(false);
      assert.equal(ok.status, 200);
      assert.equal(ok.trailers['grpc-status'], '0');
      assert.equal(ok.bytes, 7);
      const failed = await call(true);
      assert.equal(failed.trailers['grpc-status'], '14');
      const text = (await httpGet(scene.wp.waypoint.admin.ports.metrics!, '/metrics')).body;
      assert.ok(metricValue(text, 'istio_requests_total', { reporter: 'waypoint', request_protocol: 'grpc', grpc_response_status: '14' }) >= 1, 'grpc status from the trailers');
      assert.ok(metricValue(text, 'istio_requests_total', { reporter: 'waypoint', request_protocol: 'grpc', grpc_response_status: '0' }) >= 1);
    } finally {
      session.destroy();
      for (const s of servers) s.close();
    }
  });

  it('relays a protocol it does not recognise as TCP', async () => {
    const apps = [await scene.cluster.startApp(mesh.ips.v1, 9000), await scene.cluster.startApp(mesh.ips.v2, 9000)];
    try {
      for (let i = 0; i < 4; i++) {
        const s = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 9000 });
        const r = await exchange(s, `ping over tcp ${i}\n`);
        assert.equal(r.data.toString(), `ping over tcp ${i}\n`);
      }
      assert.equal(apps[0]!.accepted() + apps[1]!.accepted(), 4);
      assert.ok(scene.wp.logs.find('connection complete', (l) => l['protocol'] === 'tcp').length >= 4, 'the waypoint relayed them');
    } finally {
      await Promise.all(apps.map((a) => a.close()));
    }
  });
});
