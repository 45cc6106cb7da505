// Direct tier: two real Ztunnels in one process carry pod traffic — cross-node and same-node
// over HBONE, through a service VIP, passthrough outside the mesh, plaintext inbound with
// PERMISSIVE and STRICT — and report it with Istio's metrics and one access-log line each.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DirectCluster, eventually, exchange, httpGet, meshAddresses, metricValue, sampleMesh, type App } from '../support/ztunnel-harness.js';

const { n1, n2, vip } = meshAddresses('127.77');
const meshYaml = (extra = ''): string => sampleMesh('127.77', extra);

describe('ztunnel traffic (direct tier)', () => {
  let cluster: DirectCluster;
  let echo: App;
  let localEcho: App;
  let legacy: App;

  before(async () => {
    cluster = await DirectCluster.start({ 'node-1': [n1.client, n1.other, n1.local], 'node-2': [n2.echo] }, meshYaml());
    echo = await cluster.startApp(n2.echo, 8080);
    localEcho = await cluster.startApp(n1.local, 9090);
    legacy = await cluster.startApp(n2.legacy, 7070);
  });
  after(async () => cluster.close());

  test('cross-node pod to pod goes client -> ztunnel -> HBONE -> ztunnel -> app', async () => {
    const before = echo.accepted();
    const r = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'hello across nodes');
    assert.equal(r.data.toString(), 'hello across nodes');
    assert.equal(r.ending, 'end');
    assert.equal(echo.accepted(), before + 1);
    // The app sees ztunnel's connection, not the client's socket directly.
    assert.notEqual(echo.peers.at(-1), n1.client);
    // Both sides saw an HBONE session.
    assert.ok(cluster.node('node-2').ztunnel.hboneStats.sessionsTotal >= 1);
  });

  test('a service VIP is load-balanced to an endpoint with its named target port', async () => {
    const r = await exchange(cluster.connectFrom('node-1', n1.client, { ip: vip, port: 80 }), 'via the service');
    assert.equal(r.data.toString(), 'via the service');
    const log = cluster.node('node-1').logs.find('connection complete', (l) => l['dst.service'] === 'echo.demo.svc.cluster.local');
    assert.ok(log.length >= 1, 'outbound access log names the service');
    assert.equal(log.at(-1)!['dst.hbone_addr'], `${n2.echo}:8080`);
    assert.equal(log.at(-1)!['dst.addr'], `${n2.echo}:15008`);
  });

  test('same-node pod to pod also goes over HBONE through the node\'s own inbound', async () => {
    const before = cluster.node('node-1').ztunnel.hboneStats.streamsAccepted;
    const r = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n1.local, port: 9090 }), 'same node');
    assert.equal(r.data.toString(), 'same node');
    assert.equal(localEcho.accepted(), 1);
    assert.equal(cluster.node('node-1').ztunnel.hboneStats.streamsAccepted, before + 1);
  });

  test('a destination outside the mesh is plain TCP passthrough', async () => {
    const r = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.legacy, port: 7070 }), 'to legacy');
    assert.equal(r.data.toString(), 'to legacy');
    assert.equal(legacy.accepted(), 1);
    const log = cluster.node('node-1').logs.find('connection complete', (l) => l['dst.addr'] === `${n2.legacy}:7070`);
    assert.equal(log.length, 1);
    assert.equal(log[0]!['dst.hbone_addr'], undefined);
  });

  test('unknown sources and ztunnel\'s own ports are refused with a reset', async () => {
    const unknown = await exchange(cluster.connectFrom('node-1', '127.77.1.99', { ip: n2.echo, port: 8080 }), 'who am i');
    assert.equal(unknown.data.length, 0);
    assert.notEqual(unknown.ending, 'end');
    const loop = await exchange(cluster.connectFrom('node-1', n1.client, { ip: '127.0.0.1', port: 15001 }), 'loop');
    assert.equal(loop.data.length, 0);
    const logs = cluster.node('node-1').logs.find('outbound connection refused');
    assert.deepEqual(logs.map((l) => l['reason']).sort(), ['self_call', 'unknown_source']);
  });

  test('plaintext from outside the mesh reaches an enrolled pod under PERMISSIVE', async () => {
    const r = await exchange(cluster.connectPlaintext('node-2', n2.legacy, { ip: n2.echo, port: 8080 }), 'plain hello');
    assert.equal(r.data.toString(), 'plain hello');
  });

  test('metrics carry Istio\'s names and labels on both sides', async () => {
    const src = await httpGet(cluster.node('node-1').ztunnel.admin.ports.metrics!, '/metrics');
    const dst = await httpGet(cluster.node('node-2').ztunnel.admin.ports.metrics!, '/stats/prometheus');
    assert.equal(src.status, 200);
    const common = {
      source_workload: 'client', source_workload_namespace: 'demo', source_principal: 'spiffe://cluster.local/ns/demo/sa/client',
      destination_workload: 'echo-v1', destination_workload_namespace: 'demo', destination_principal: 'spiffe://cluster.local/ns/demo/sa/echo',
      connection_security_policy: 'mutual_tls', request_protocol: 'tcp', response_flags: '-',
    };
    assert.ok(metricValue(src.body, 'istio_tcp_connections_opened_total', { ...common, reporter: 'source' }) >= 2);
    assert.ok(metricValue(dst.body, 'istio_tcp_connections_opened_total', { ...common, reporter: 'destination' }) >= 2);
    assert.ok(metricValue(src.body, 'istio_tcp_connections_closed_total', { ...common, reporter: 'source', destination_service: 'echo.demo.svc.cluster.local', destination_service_name: 'echo' }) >= 1);
    // 'hello across nodes' + 'via the service': request bytes counted as received, echoed bytes as sent.
    const received = metricValue(dst.body, 'istio_tcp_received_bytes_total', { ...common, reporter: 'destination' });
    const sent = metricValue(dst.body, 'istio_tcp_sent_bytes_total', { ...common, reporter: 'destination' });
    assert.ok(received >= 'hello across nodes'.length + 'via the service'.length);
    assert.equal(sent, received);
    assert.equal(metricValue(dst.body, 'istio_tcp_sockets_open', { reporter: 'destination' }), 0);
    assert.match(src.body, /istio_build\{component="ztunnel"/);
    // The plaintext connection: no principal, not mTLS.
    assert.ok(metricValue(dst.body, 'istio_tcp_connections_opened_total', { reporter: 'destination', connection_security_policy: 'unknown', source_principal: 'unknown' }) >= 1);
  });

  test('one access-log line per connection, with Istio\'s fields', async () => {
    const lines = cluster.node('node-2').logs.find('connection complete', (l) => l['direction'] === 'inbound' && l['src.identity'] === 'spiffe://cluster.local/ns/demo/sa/client');
    assert.ok(lines.length >= 2);
    for (const l of lines) {
      for (const field of ['src.addr', 'dst.addr', 'dst.hbone_addr', 'dst.workload', 'dst.namespace', 'dst.identity', 'bytes_sent', 'bytes_recv', 'duration']) assert.ok(field in l, `field ${field}`);
      assert.equal(l['target'], 'access');
    }
  });

  test('readiness and /config_dump', async () => {
    const z = cluster.node('node-2').ztunnel;
    const ready = await httpGet(z.admin.ports.readiness!, '/healthz/ready');
    assert.equal(ready.status, 200);
    const dump = JSON.parse((await httpGet(z.admin.ports.admin!, '/config_dump')).body) as { node: string; workloads: unknown[]; certificates: { identity: string; state: string; expiry: string }[]; connections: unknown[] };
    assert.equal(dump.node, 'node-2');
    assert.ok(dump.workloads.length >= 5);
    assert.deepEqual(dump.certificates.map((c) => [c.identity, c.state]), [['spiffe://cluster.local/ns/demo/sa/echo', 'Available']]);
    assert.ok(Date.parse(dump.certificates[0]!.expiry) > Date.now());
    await eventually(() => assert.equal(z.connections.size, 0), 2_000);
  });
});
