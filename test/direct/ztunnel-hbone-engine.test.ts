// Direct tier: ztunnel's `--hbone-engine` (lean shared/h2 or node:http2) — a bad value stops the
// CLI with a clear error; a node on each engine carries traffic both ways; a live tunnel shows in
// /config_dump with its fields; a workload whose service account changes in a recompiled model
// connects with the new identity (identityOf's memo is per workload object, never stale).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ambitCli } from '../support/ambit-process.js';
import { runProcess } from '../support/external-process.js';
import { DirectCluster, eventually, exchange, httpGet, meshAddresses, sampleMesh, type App } from '../support/ztunnel-harness.js';

const prefix = '127.75';
const { n1, n2 } = meshAddresses(prefix);

describe('ambit ztunnel --hbone-engine', () => {
  for (const bad of ['foo', 'LEAN', '']) {
    test(`refuses ${JSON.stringify(bad)} with the accepted values and exit code 1, before anything else is checked`, async () => {
      // No --node and no config source: the engine is the first thing judged.
      const r = await runProcess(process.execPath, [ambitCli, 'ztunnel', `--hbone-engine=${bad}`], { timeoutMs: 20_000 });
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`--hbone-engine: expected one of lean, node, got ${JSON.stringify(bad)}`), r.stderr);
    });
  }
});

describe('ztunnels on different HBONE engines (direct tier)', () => {
  let cluster: DirectCluster;
  let echo: App;
  let localEcho: App;

  before(async () => {
    cluster = await DirectCluster.start({ 'node-1': [n1.client, n1.local], 'node-2': [n2.echo] }, sampleMesh(prefix), { engines: { 'node-1': 'node', 'node-2': 'lean' } });
    echo = await cluster.startApp(n2.echo, 8080);
    localEcho = await cluster.startApp(n1.local, 9090);
  });
  after(async () => cluster.close());

  test('a node:http2 pool reaches a lean server, and a lean pool reaches a node:http2 server', async () => {
    const there = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'node to lean');
    assert.deepEqual([there.data.toString(), there.ending], ['node to lean', 'end']);
    const back = await exchange(cluster.connectFrom('node-2', n2.echo, { ip: n1.local, port: 9090 }), 'lean to node');
    assert.deepEqual([back.data.toString(), back.ending], ['lean to node', 'end']);
    assert.equal(localEcho.accepted(), 1);
  });

  test('/config_dump lists a live tunnel with its fields on both ends, and forgets it once closed', async () => {
    const socket = cluster.connectFrom('node-2', n2.echo, { ip: n1.local, port: 9090 });
    await new Promise<void>((resolve) => { socket.once('data', () => resolve()); socket.write('hold'); });
    type Dumped = { direction: string; protocol: string; src: { ip: string }; originalDst: { ip: string; port: number }; actualDst: { ip: string; port: number }; peer?: string; ageSeconds: number };
    const dump = async (node: string): Promise<Dumped[]> =>
      (JSON.parse((await httpGet(cluster.node(node).ztunnel.admin.ports.admin!, '/config_dump')).body) as { connections: Dumped[] }).connections;
    const [out] = await dump('node-2');
    assert.ok(out, 'node-2 lists the outbound tunnel');
    assert.deepEqual([out.direction, out.protocol, out.src.ip, out.originalDst, out.actualDst, out.peer], ['outbound', 'HBONE', n2.echo, { ip: n1.local, port: 9090 }, { ip: n1.local, port: 15008 }, 'spiffe://cluster.local/ns/demo/sa/echo']);
    assert.equal(out.ageSeconds >= 0, true);
    const [inb] = await dump('node-1');
    assert.ok(inb, 'node-1 lists the inbound tunnel');
    assert.deepEqual([inb.direction, inb.protocol, inb.originalDst, inb.peer], ['inbound', 'HBONE', { ip: n1.local, port: 9090 }, 'spiffe://cluster.local/ns/demo/sa/echo']);
    socket.end();
    socket.resume();
    await eventually(() => assert.deepEqual([cluster.node('node-1').ztunnel.connections.size, cluster.node('node-2').ztunnel.connections.size], [0, 0], 'both ends forget the closed tunnel'), 3_000);
  });

  test('a service account changed in a recompiled model is the identity of the next connection', async () => {
    const identities = (): unknown[] => cluster.node('node-2').logs.find('connection complete', (l) => l['direction'] === 'inbound').map((l) => l['src.identity']);
    assert.equal((await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'as client')).data.toString(), 'as client');
    await eventually(() => assert.equal(identities().at(-1), 'spiffe://cluster.local/ns/demo/sa/client'), 3_000);
    cluster.apply(sampleMesh(prefix).replace('serviceAccountName: client,', 'serviceAccountName: renamed,'));
    const renamed = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'as renamed');
    assert.equal(renamed.data.toString(), 'as renamed');
    await eventually(() => assert.equal(identities().at(-1), 'spiffe://cluster.local/ns/demo/sa/renamed'), 3_000);
    cluster.apply(sampleMesh(prefix));
    assert.equal((await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 }), 'back')).data.toString(), 'back');
    await eventually(() => assert.equal(identities().at(-1), 'spiffe://cluster.local/ns/demo/sa/client'), 3_000);
    assert.ok(echo.accepted() >= 3);
  });
});
