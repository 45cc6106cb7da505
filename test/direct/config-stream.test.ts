// Direct tier: the config stream between ConfigService (control plane) and ConfigClients over
// real gRPC with TLS on loopback.
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { before, describe, it } from 'node:test';
import { ConfigService } from '../../controlplane/config-service.js';
import { ConfigStore } from '../../shared/config/config-store.js';
import { silentLogger } from '../../shared/log.js';
import { ConfigClient, type AppliedDelta } from '../../shared/xds/config-client.js';
import { configServiceDefinition, type ClientMessage, type ServerMessage } from '../../shared/xds/config-protocol.js';
import type { Workload } from '../../shared/config/model.js';
import { controlPlaneChannelCredentials, controlPlaneServerCredentials } from '../../shared/xds/credentials.js';
import { createTestMesh, eventually, identity, type TestMesh } from '../support/mesh.js';
import type { WorkloadCertificate } from '../../shared/identity/workload-certificate.js';

const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo, labels: {app: echo}}\nspec: {nodeName: node-1, containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;
const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: demo}\nspec: {clusterIP: 10.96.0.20, selector: {app: echo}, ports: [{port: 80}]}\n';
const cpId = identity('ambit-system', 'controlplane');

interface RunningServer { server: grpc.Server; port: number }

async function serve(service: ConfigService, cert: WorkloadCertificate, port = 0): Promise<RunningServer> {
  const server = new grpc.Server();
  server.addService(configServiceDefinition, service.implementation());
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, controlPlaneServerCredentials(cert), (err, p) => (err ? reject(err) : resolve(p))));
  return { server, port: bound };
}

function stop(s: RunningServer): void {
  s.server.forceShutdown();
}

describe('config stream', () => {
  let mesh: TestMesh;
  let cpCert: WorkloadCertificate;
  before(async () => {
    mesh = await createTestMesh();
    cpCert = await mesh.ca.issue(cpId);
  });

  function client(port: number, node: string, expected = [cpId], kind: 'ztunnel' | 'waypoint' = 'ztunnel') {
    const c = new ConfigClient({ address: `127.0.0.1:${port}`, credentials: controlPlaneChannelCredentials(mesh.ca.rootsPem, expected), node, kind, logger: silentLogger(), maxBackoffMs: 200 });
    const deltas: AppliedDelta[] = [];
    c.onChange((d) => deltas.push(d));
    c.start();
    return { c, deltas };
  }

  it('sends a snapshot, then deltas of only what changed, to every subscriber', async () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), svc].join('---\n')));
    const service = new ConfigService({ store, logger: silentLogger() });
    const s = await serve(service, cpCert);
    const a = client(s.port, 'node-1');
    const b = client(s.port, 'node-2');
    await Promise.all([a.c.ready(), b.c.ready()]);
    for (const x of [a, b]) {
      assert.equal(x.c.workloads.size, 1);
      assert.equal(x.c.services.size, 1);
    }
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), svc].join('---\n')));
    assert.ok(await eventually(() => a.c.workloads.size === 2 && b.c.workloads.size === 2));
    assert.deepEqual(a.deltas[1]!.upsertedWorkloads.map((w) => w.name), ['p2']);
    assert.deepEqual(a.deltas[1]!.removedWorkloads, []);
    assert.ok(await eventually(() => service.subscriberList().every((sub) => sub.ackedVersion?.n === store.version)), 'both acked the latest version');
    a.c.close();
    b.c.close();
    stop(s);
    service.close();
  });

  it('gives waypoints the L7 resources in the snapshot and in deltas, and ztunnels the same versions without them', async () => {
    const vs = (weight: number) =>
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: echo, namespace: demo}\nspec: {hosts: [echo], http: [{route: [{destination: {host: echo}, weight: ${weight}}]}]}\n`;
    const deny = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: no-admin, namespace: demo}\nspec: {targetRefs: [{kind: Service, group: "", name: echo}], action: DENY, rules: [{to: [{operation: {paths: [/admin]}}]}]}\n';
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), svc, vs(100)].join('---\n')));
    const service = new ConfigService({ store, logger: silentLogger() });
    const s = await serve(service, cpCert);
    const z = client(s.port, 'node-1');
    const w = client(s.port, 'node-1', [cpId], 'waypoint');
    await Promise.all([z.c.ready(), w.c.ready()]);
    assert.deepEqual([...w.c.waypointResources.keys()], ['VirtualService/demo/echo']);
    assert.equal(z.c.waypointResources.size, 0);
    // An L7-only edit: the waypoint sees exactly it; the ztunnel acks the same version, unchanged.
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), svc, deny].join('---\n')));
    assert.ok(await eventually(() => w.c.waypointResources.has('AuthorizationPolicy/demo/no-admin') && !w.c.waypointResources.has('VirtualService/demo/echo')));
    const last = w.deltas.at(-1)!;
    assert.deepEqual(last.upsertedWaypointResources?.map((r) => r.kind), ['AuthorizationPolicy']);
    assert.deepEqual(last.removedWaypointResources, ['VirtualService/demo/echo']);
    assert.ok(await eventually(() => service.subscriberList().every((sub) => sub.ackedVersion?.n === store.version)), 'both acked the L7-only version');
    assert.equal(z.c.waypointResources.size, 0);
    assert.equal(z.deltas.length, 1, 'the ztunnel saw no change beyond its snapshot');
    z.c.close();
    w.c.close();
    stop(s);
    service.close();
  });

  it('keeps serving the last config while the control plane is down, and resumes with only the missed deltas', async () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1')].join('---\n')));
    const service = new ConfigService({ store, logger: silentLogger() });
    let s = await serve(service, cpCert);
    const a = client(s.port, 'node-1');
    await a.c.ready();
    const port = s.port;
    stop(s);
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2')].join('---\n')));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(a.c.workloads.size, 1, 'still serving the last config');
    assert.ok(a.c.reconnects >= 1, 'it tried to reconnect');
    s = await serve(service, cpCert, port); // same epoch: history has the missed delta
    assert.ok(await eventually(() => a.c.workloads.size === 2, 5000));
    assert.deepEqual(a.deltas.at(-1)!.upsertedWorkloads.map((w) => w.name), ['p2']);
    a.c.close();
    stop(s);
    service.close();
  });

  it('after a control plane restart (new epoch) applies the snapshot as a diff: no wipe, only real changes', async () => {
    const text = [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), svc].join('---\n');
    const store1 = new ConfigStore({ trustDomain: 'cluster.local' });
    store1.update((r) => r.applyText('a.yaml', text));
    const service1 = new ConfigService({ store: store1, logger: silentLogger() });
    const s1 = await serve(service1, cpCert);
    const a = client(s1.port, 'node-1');
    await a.c.ready();
    const before = a.deltas.length;
    stop(s1);
    service1.close();
    const store2 = new ConfigStore({ trustDomain: 'cluster.local' });
    store2.update((r) => r.applyText('a.yaml', text.replace('10.0.0.2', '10.0.0.3')));
    const service2 = new ConfigService({ store: store2, logger: silentLogger() });
    const s2 = await serve(service2, cpCert, s1.port);
    assert.ok(await eventually(() => a.c.currentVersion()?.epoch === service2.epoch, 5000));
    const after = a.deltas.slice(before);
    assert.equal(after.length, 1);
    assert.deepEqual(after[0]!.upsertedWorkloads.map((w) => w.name), ['p2']);
    assert.deepEqual(after[0]!.removedWorkloads, []);
    assert.deepEqual(after[0]!.upsertedServices, []);
    assert.equal(a.c.workloads.size, 2);
    a.c.close();
    stop(s2);
    service2.close();
  });

  it('rejects one malformed entry among good ones: the others apply, its last good version stays, the version is nacked naming it (case 22)', async () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), svc].join('---\n')));
    const model = store.model;
    const [w1, w2] = model.workloads;
    const epoch = 'test-epoch';
    const nacks: { version: { n: number }; error: string }[] = [];
    const server = new grpc.Server();
    server.addService(configServiceDefinition, {
      subscribe: (call: grpc.ServerDuplexStream<ClientMessage, ServerMessage>) => {
        call.on('data', (m: ClientMessage) => {
          if ('nack' in m && m.nack) nacks.push(m.nack);
        });
        call.on('error', () => undefined);
        call.write({ snapshot: { version: { epoch, n: 1 }, workloads: model.workloads, services: model.services, authorizations: [] } });
        // Version 2: p1 changes its labels; p2's new version is malformed (addresses not a list); a new service is good.
        const badP2 = { ...w2!, addresses: 'not-a-list' } as unknown as Workload;
        const newSvc = { ...model.services[0]!, name: 'other', hostname: 'other.demo.svc.cluster.local', addresses: ['10.96.0.21'] };
        call.write({ delta: { version: { epoch, n: 2 }, upsertedWorkloads: [{ ...w1!, labels: { app: 'echo', changed: 'yes' } }, badP2], removedWorkloads: [], upsertedServices: [newSvc], removedServices: [], upsertedAuthorizations: [], removedAuthorizations: [] } });
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', controlPlaneServerCredentials(cpCert), (err, p) => (err ? reject(err) : resolve(p))));
    const a = client(port, 'node-1');
    try {
      assert.ok(await eventually(() => a.c.currentVersion()?.n === 2));
      assert.equal(a.c.workloads.get(w1!.uid)?.labels['changed'], 'yes', 'the good workload applied');
      assert.deepEqual(a.c.workloads.get(w2!.uid)?.addresses, w2!.addresses, 'the malformed one kept its last good version');
      assert.ok(a.c.services.has('demo/other.demo.svc.cluster.local'), 'the good service applied');
      assert.ok(await eventually(() => nacks.length === 1));
      assert.equal(nacks[0]!.version.n, 2);
      assert.match(nacks[0]!.error, new RegExp(`rejected 1 malformed entry .*${w2!.uid.replace(/[/]/g, '\\/')}`));
    } finally {
      a.c.close();
      server.forceShutdown();
    }
  });

  it('refuses a control plane whose identity is not the expected one', async () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    const service = new ConfigService({ store, logger: silentLogger() });
    const s = await serve(service, cpCert);
    const a = client(s.port, 'node-1', [identity('ambit-system', 'someone-else')]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(a.c.currentVersion(), undefined);
    assert.equal(service.subscriberList().length, 0);
    assert.ok(a.c.reconnects >= 1);
    a.c.close();
    stop(s);
    service.close();
  });
});

