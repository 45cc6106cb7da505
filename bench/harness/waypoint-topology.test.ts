import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigStore } from '../../shared/config/config-store.js';
import { bodyOf, buildBenchMesh } from './waypoint-topology.js';

describe('waypoint benchmark mesh', () => {
  it('compiles without errors, with the waypoint in front of account echo only', () => {
    const mesh = buildBenchMesh(213);
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => void r.applyText('mesh.yaml', mesh.yaml));
    assert.deepEqual(store.errors, []);
    const byName = new Map(store.model.workloads.map((w) => [w.name, w]));
    assert.equal(byName.get('echo-1')?.waypoint?.identity.serviceAccount, 'echo-istio-waypoint');
    assert.equal(byName.get('plain-1')?.waypoint, undefined);
    assert.equal(byName.get('client')?.addresses[0], '127.0.0.1');
  });

  it("puts pod proxy-1 (the nginx-hop path's nginx) on node-2 behind Service proxy, with no waypoint", () => {
    const mesh = buildBenchMesh(213);
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => void r.applyText('mesh.yaml', mesh.yaml));
    assert.deepEqual(store.errors, []);
    const proxy = store.model.workloads.find((w) => w.name === 'proxy-1');
    assert.equal(proxy?.node, 'node-2');
    assert.equal(proxy?.serviceAccount, 'proxy');
    assert.equal(proxy?.waypoint, undefined);
    assert.deepEqual(proxy?.addresses, [mesh.ips.proxy]);
    assert.deepEqual(proxy?.services['bench/proxy.bench.svc.cluster.local'], [{ servicePort: 80, targetPort: 8080 }]);
    const service = store.model.services.find((x) => x.name === 'proxy');
    assert.deepEqual(service?.addresses, [mesh.vips.proxy]);
    const taken = [mesh.ips.echo, mesh.ips.plain, mesh.ips.waypoint, mesh.ips.echo2, mesh.ips.waypoint2];
    assert.ok(!taken.includes(mesh.ips.proxy));
    assert.ok(![mesh.vips.echo, mesh.vips.plain, mesh.vips.echo2].includes(mesh.vips.proxy));
  });

  it('adds a second waypointed account for an A/B run only when asked', () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => void r.applyText('mesh.yaml', buildBenchMesh(213, { baseline: true }).yaml));
    assert.deepEqual(store.errors, []);
    const echo2 = store.model.workloads.find((w) => w.name === 'echo2-1');
    assert.equal(echo2?.waypoint?.identity.serviceAccount, 'echo2-istio-waypoint');
    assert.ok(!buildBenchMesh(213).yaml.includes('echo2'));
  });

  it('makes a body of exactly the size asked for', () => {
    assert.equal(bodyOf(1024).length, 1024);
    assert.equal(bodyOf(1).length, 1);
  });
});
