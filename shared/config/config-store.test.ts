import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from './config-error.js';
import { ConfigStore, type ModelDelta } from './config-store.js';

const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string, extra = '') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo, labels: {app: echo${extra}}}\nspec: {nodeName: node-1, serviceAccountName: echo, containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;
const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: echo, namespace: demo}\nspec: {clusterIP: 10.96.0.20, selector: {app: echo}, ports: [{port: 80, targetPort: 8080}]}\n';

function store() {
  const s = new ConfigStore({ trustDomain: 'cluster.local' });
  const deltas: ModelDelta[] = [];
  s.subscribe((d) => deltas.push(d));
  return { s, deltas };
}

describe('ConfigStore', () => {
  it('publishes a full first delta, then only what changed, with increasing versions', () => {
    const { s, deltas } = store();
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), svc].join('---\n')));
    assert.equal(deltas.length, 1);
    assert.equal(deltas[0]!.version, 1);
    assert.equal(deltas[0]!.upsertedWorkloads.length, 2);
    assert.equal(deltas[0]!.upsertedServices.length, 1);
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.9'), svc].join('---\n')));
    assert.equal(deltas.length, 2);
    assert.deepEqual(deltas[1]!.upsertedWorkloads.map((w) => w.name), ['p2']);
    assert.deepEqual(deltas[1]!.upsertedServices, []);
    assert.equal(deltas[1]!.version, 2);
  });

  it('publishes nothing when an update changes nothing', () => {
    const { s, deltas } = store();
    s.update((r) => r.applyText('a.yaml', ns + '---\n' + pod('p1', '10.0.0.1')));
    assert.equal(s.update((r) => r.applyText('a.yaml', ns + '---\n' + pod('p1', '10.0.0.1'))), undefined);
    assert.equal(deltas.length, 1);
    assert.equal(s.version, 1);
  });

  it('removes the objects of a removed source', () => {
    const { s, deltas } = store();
    s.update((r) => { r.applyText('ns.yaml', ns); r.applyText('pods.yaml', pod('p1', '10.0.0.1')); });
    s.update((r) => r.removeSource('pods.yaml'));
    assert.deepEqual(deltas[1]!.removedWorkloads, ['Kubernetes//Pod/demo/p1']);
    assert.equal(s.model.workloads.length, 0);
  });

  it('keeps the last good version of an object whose new document is invalid, and applies the rest', () => {
    const { s } = store();
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2')].join('---\n')));
    // p1's IP becomes invalid; p2 changes validly.
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', 'not-an-ip'), pod('p2', '10.0.0.3')].join('---\n')));
    assert.equal(s.index.workloadByUid.get('Kubernetes//Pod/demo/p1')?.addresses[0], '10.0.0.1');
    assert.equal(s.index.workloadByUid.get('Kubernetes//Pod/demo/p2')?.addresses[0], '10.0.0.3');
    assert.match(s.errors.map(formatConfigError).join('\n'), /a\.yaml, document 1.*Pod demo\/p1 status\.podIP: "not-an-ip" is not an IP address/);
  });

  it('keeps a source whose whole text stopped parsing', () => {
    const { s } = store();
    s.update((r) => r.applyText('a.yaml', ns + '---\n' + pod('p1', '10.0.0.1')));
    s.update((r) => r.applyText('a.yaml', 'kind: [oops\n'));
    assert.equal(s.model.workloads.length, 1);
    assert.match(formatConfigError(s.errors[0]!), /^a\.yaml, document 0, line \d+: invalid YAML/);
  });

  it('leaves out a new object that has an error and never had a good version', () => {
    const { s } = store();
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', 'bad-ip')].join('---\n')));
    assert.equal(s.model.workloads.length, 0);
    assert.equal(s.errors.length, 1);
  });

  it('reports an object defined twice and keeps the first (by source name)', () => {
    const { s } = store();
    s.update((r) => { r.applyText('b.yaml', pod('p1', '10.0.0.2')); r.applyText('a.yaml', ns + '---\n' + pod('p1', '10.0.0.1')); });
    assert.equal(s.index.workloadByUid.get('Kubernetes//Pod/demo/p1')?.addresses[0], '10.0.0.1');
    assert.match(s.errors.map(formatConfigError).join('\n'), /b\.yaml, document 0: Pod demo\/p1 metadata\.name: duplicate: already defined in a\.yaml/);
  });

  it('indexes workloads by IP, service account, node and service, and services by VIP', () => {
    const { s } = store();
    s.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), svc].join('---\n')));
    const idx = s.index;
    assert.equal(idx.workloadByIp.get('10.0.0.2')?.name, 'p2');
    assert.equal(idx.workloadsByServiceAccount.get('demo/echo')?.length, 2);
    assert.equal(idx.workloadsByNode.get('node-1')?.length, 2);
    assert.equal(idx.serviceByVip.get('10.96.0.20')?.hostname, 'echo.demo.svc.cluster.local');
    assert.deepEqual(idx.endpointsByService.get('demo/echo.demo.svc.cluster.local')?.map((w) => w.name), ['p1', 'p2']);
  });
});
