// Direct tier: L4 authorization at the destination ztunnel — allow and deny by principal and
// namespace, STRICT PeerAuthentication against plaintext, and policy changes re-checking live
// connections (reliability cases 11 and 26).
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DirectCluster, eventually, exchange, httpGet, meshAddresses, metricValue, sampleMesh, type App } from '../support/ztunnel-harness.js';

const prefix = '127.78';
const { n1, n2 } = meshAddresses(prefix);

const allowClientOnly = `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]}]
`;
const denyOtherNamespace = `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-other, namespace: demo}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [other]}}]}]
`;
const strictDemo = `
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: demo}
spec: {mtls: {mode: STRICT}}
`;

/** A connection kept open: write returns what came back. */
function liveConnection(s: Socket): { socket: Socket; say(text: string): Promise<string>; closed: Promise<'end' | 'reset' | 'close'> } {
  let buffer = '';
  let waiter: (() => void) | undefined;
  s.on('data', (d: Buffer) => {
    buffer += d.toString();
    waiter?.();
  });
  let ending: 'end' | 'reset' | 'close' = 'close';
  s.on('end', () => { ending = 'end'; });
  s.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'ECONNRESET' || e.code === 'EPIPE') ending = 'reset'; });
  const closed = new Promise<'end' | 'reset' | 'close'>((resolve) => s.once('close', () => resolve(ending)));
  return {
    socket: s,
    closed,
    say: (text) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${text}`)), 3_000);
      waiter = () => {
        if (buffer.includes(text)) {
          clearTimeout(timer);
          waiter = undefined;
          resolve(text);
        }
      };
      s.write(text);
    }),
  };
}

describe('ztunnel L4 authorization (direct tier)', () => {
  let cluster: DirectCluster;
  let echo: App;

  before(async () => {
    cluster = await DirectCluster.start({ 'node-1': [n1.client, n1.other, n1.local], 'node-2': [n2.echo] }, sampleMesh(prefix));
    echo = await cluster.startApp(n2.echo, 8080);
  });
  after(async () => cluster.close());

  test('ALLOW by principal: the named client passes, another principal is denied before the app sees anything (case 11)', async () => {
    cluster.apply(sampleMesh(prefix, allowClientOnly));
    const ok = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'allowed');
    assert.equal(ok.data.toString(), 'allowed');
    const accepted = echo.accepted();
    const denied = await exchange(cluster.connectFrom('node-1', n1.other, { ip: n2.echo, port: 8080 }), 'denied?');
    assert.equal(denied.data.length, 0);
    assert.notEqual(denied.ending, 'end', 'a denied client sees a reset, not a clean close');
    assert.equal(echo.accepted(), accepted, 'the upstream socket is never opened');
    const log = cluster.node('node-2').logs.find('inbound connection denied by policy');
    assert.equal(log.at(-1)?.['policy'], undefined, 'not_allowed names no single policy');
    assert.equal(log.at(-1)?.['reason'], 'not_allowed');
    const metrics = await httpGet(cluster.node('node-2').ztunnel.admin.ports.metrics!, '/metrics');
    assert.ok(metricValue(metrics.body, 'istio_tcp_connections_failed_total', { reporter: 'destination', response_flags: 'DENY', source_principal: 'spiffe://cluster.local/ns/other/sa/intruder' }) >= 1);
    // The source side saw the 401 too.
    const src = cluster.node('node-1').logs.find('connection failed', (l) => l['src.identity'] === 'spiffe://cluster.local/ns/other/sa/intruder');
    assert.match(String(src.at(-1)?.['error']), /401/);
  });

  test('DENY by namespace names the policy in the log', async () => {
    cluster.apply(sampleMesh(prefix, denyOtherNamespace));
    const denied = await exchange(cluster.connectFrom('node-1', n1.other, { ip: n2.echo, port: 8080 }), 'x');
    assert.equal(denied.data.length, 0);
    const log = cluster.node('node-2').logs.find('inbound connection denied by policy');
    assert.equal(log.at(-1)?.['policy'], 'demo/deny-other');
    assert.equal(log.at(-1)?.['reason'], 'explicitly_denied');
    const ok = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'still fine');
    assert.equal(ok.data.toString(), 'still fine');
  });

  test('STRICT refuses plaintext to the workload; HBONE still works', async () => {
    cluster.apply(sampleMesh(prefix, strictDemo));
    const plain = await exchange(cluster.connectPlaintext('node-2', n2.legacy, { ip: n2.echo, port: 8080 }), 'plaintext');
    assert.equal(plain.data.length, 0);
    assert.notEqual(plain.ending, 'end');
    const refused = cluster.node('node-2').logs.find('inbound plaintext connection refused');
    assert.match(String(refused.at(-1)?.['policy']), /converted_peer_authentication/);
    const mtls = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'mtls');
    assert.equal(mtls.data.toString(), 'mtls');
  });

  test('a policy change closes the now-denied live connections within 1 s and leaves the others (case 26)', async () => {
    cluster.apply(sampleMesh(prefix));
    const intruder = liveConnection(cluster.connectFrom('node-1', n1.other, { ip: n2.echo, port: 8080 }));
    const client = liveConnection(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }));
    await intruder.say('one');
    await client.say('one');
    const before = cluster.node('node-2').ztunnel.lateRejections;
    const t0 = Date.now();
    cluster.apply(sampleMesh(prefix, denyOtherNamespace));
    const ending = await intruder.closed;
    const took = Date.now() - t0;
    assert.ok(took < 1_000, `closed after ${took} ms`);
    assert.notEqual(ending, 'end', 'closed by a reset');
    assert.equal(cluster.node('node-2').ztunnel.lateRejections, before + 1);
    await client.say('two'); // untouched
    client.socket.end();
    await client.closed;
    const log = cluster.node('node-2').logs.find('connection complete', (l) => String(l['error']).includes('policy change'));
    assert.ok(log.length >= 1, 'the access log says why it closed');
    // deny -> allow: a new connection passes at once.
    cluster.apply(sampleMesh(prefix));
    const again = await exchange(cluster.connectFrom('node-1', n1.other, { ip: n2.echo, port: 8080 }), 'back');
    assert.equal(again.data.toString(), 'back');
  });

  test('a policy whose scope moves from the namespace to a selector stops applying to the rest', async () => {
    const scoped = denyOtherNamespace.replace('action: DENY', 'selector: {matchLabels: {app: nothing-here}}\n  action: DENY');
    cluster.apply(sampleMesh(prefix, scoped));
    const r = await exchange(cluster.connectFrom('node-1', n1.other, { ip: n2.echo, port: 8080 }), 'scope');
    assert.equal(r.data.toString(), 'scope');
  });

  test('no connection is left tracked', async () => {
    for (const n of cluster.nodes.values()) await eventually(() => assert.equal(n.ztunnel.connections.size, 0), 2_000);
  });
});
