import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from './config-error.js';
import { compileModel } from './compile-model.js';
import { ConfigStore, type ModelDelta } from './config-store.js';
import type { MeshModel, Workload } from './model.js';

const opts = { trustDomain: 'cluster.local' };

const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: demo, labels: {app: db}}
spec: {nodeName: node-1, serviceAccountName: db, containers: [{name: c, ports: [{name: sql, containerPort: 5432}]}]}
status: {podIP: ${ip}}
`;
const service = (selector = ''): string => `apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec:
  clusterIP: 10.96.0.20
  ${selector}
  ports:
  - {name: sql, port: 5432, targetPort: 6000}
  - {name: metrics, port: 9100}
  - {name: dns, port: 53, protocol: UDP}
`;
const slice = (name: string, endpoints: string, ports = '[{name: sql, port: 15432}, {name: metrics, port: 19100}, {name: dns, port: 53, protocol: UDP}]'): string => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: demo, labels: {kubernetes.io/service-name: db}}
addressType: IPv4
endpoints: ${endpoints}
ports: ${ports}
`;

function storeWith(...docs: string[]): ConfigStore {
  const store = new ConfigStore(opts);
  store.update((r) => r.applyText('mesh.yaml', docs.join('---\n')));
  assert.deepEqual(store.errors, []);
  return store;
}

/** The store's incremental model, checked against a full compile of the same resources. */
function model(store: ConfigStore): MeshModel {
  const full = compileModel(store.resources.resolve().resources, opts);
  assert.equal(JSON.stringify(store.model), JSON.stringify(full.model));
  assert.deepEqual(store.warnings.map(formatConfigError).sort(), full.warnings.map(formatConfigError).sort());
  return store.model;
}

const byName = (m: MeshModel, name: string): Workload | undefined => m.workloads.find((w) => w.name === name);
const svcKey = 'demo/db.demo.svc.cluster.local';

describe('EndpointSlice endpoints of a Service without a selector', () => {
  it('makes a pod named by an endpoint targetRef a member, mapping service ports to slice ports by name', () => {
    const m = model(storeWith(namespace, pod('db-0', '10.1.0.5'), service(), slice('db-1', '[{addresses: [10.1.0.5], targetRef: {kind: Pod, name: db-0}}]')));
    assert.deepEqual(byName(m, 'db-0')?.services, { [svcKey]: [{ servicePort: 5432, targetPort: 15432 }, { servicePort: 9100, targetPort: 19100 }] });
    assert.equal(m.workloads.length, 1, 'no extra workload for a known pod');
  });

  it('makes an endpoint that is not a known pod a plain (non-HBONE) workload of its own', () => {
    const m = model(storeWith(namespace, service(), slice('db-1', '[{addresses: [192.168.1.20], nodeName: node-2}, {addresses: [10.1.0.9], targetRef: {kind: Pod, name: gone}}]')));
    const [a, b] = m.workloads;
    assert.deepEqual(m.workloads.map((w) => w.uid), [
      'Kubernetes/discovery.k8s.io/EndpointSlice/demo/db-1/10.1.0.9',
      'Kubernetes/discovery.k8s.io/EndpointSlice/demo/db-1/192.168.1.20',
    ]);
    assert.equal(b?.tunnelProtocol, 'NONE');
    assert.equal(b?.status, 'HEALTHY', 'an unset ready condition means ready');
    assert.equal(b?.node, 'node-2');
    assert.deepEqual(b?.addresses, ['192.168.1.20']);
    assert.equal(b?.serviceAccount, '');
    assert.equal(b?.waypoint, undefined);
    assert.deepEqual(a?.services, { [svcKey]: [{ servicePort: 5432, targetPort: 15432 }, { servicePort: 9100, targetPort: 19100 }] });
  });

  it('maps the only service port to the only slice port whatever their names', () => {
    const single = `apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: demo}\nspec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}\n`;
    const m = model(storeWith(namespace, single, slice('db-1', '[{addresses: [192.168.1.20]}]', '[{name: web, port: 8080}]')));
    assert.deepEqual(m.workloads[0]?.services, { [svcKey]: [{ servicePort: 80, targetPort: 8080 }] });
  });

  it('leaves out an endpoint whose slice maps no TCP port of the service', () => {
    const m = model(storeWith(namespace, service(), slice('db-1', '[{addresses: [192.168.1.20]}]', '[{name: web, port: 8080}, {name: dns, port: 53, protocol: UDP}]')));
    assert.deepEqual(m.workloads, []);
  });

  it('marks a not-ready endpoint unhealthy', () => {
    const m = model(storeWith(namespace, service(), slice('db-1', '[{addresses: [192.168.1.20], conditions: {ready: false}}, {addresses: [192.168.1.21], conditions: {ready: true}}]')));
    assert.deepEqual(m.workloads.map((w) => w.status), ['UNHEALTHY', 'HEALTHY']);
  });

  it('ignores FQDN slices with a warning, and a second endpoint with the same address', () => {
    const fqdn = `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: db-dns, namespace: demo, labels: {kubernetes.io/service-name: db}}\naddressType: FQDN\nendpoints: [{addresses: [db.example.com]}]\n`;
    const store = storeWith(namespace, service(), fqdn, slice('db-1', '[{addresses: [192.168.1.20]}, {addresses: [192.168.1.20], conditions: {ready: false}}]'));
    const m = model(store);
    assert.deepEqual(m.workloads.map((w) => [w.addresses[0], w.status]), [['192.168.1.20', 'HEALTHY']]);
    assert.deepEqual(store.warnings.map(formatConfigError), [
      'model: EndpointSlice demo/db-dns addressType: FQDN endpoints are not supported; this slice is ignored',
      'model: EndpointSlice demo/db-1 endpoints: address 192.168.1.20 is listed twice; the second is ignored',
    ]);
  });

  it('ignores the slices of a Service with a selector: its endpoints are its pods', () => {
    const m = model(storeWith(namespace, pod('db-0', '10.1.0.5'), service('selector: {app: db}'), slice('db-1', '[{addresses: [192.168.1.20]}, {addresses: [10.1.0.5], targetRef: {kind: Pod, name: db-0}}]')));
    assert.deepEqual(m.workloads.map((w) => w.name), ['db-0']);
    assert.deepEqual(byName(m, 'db-0')?.services, { [svcKey]: [{ servicePort: 5432, targetPort: 6000 }, { servicePort: 9100, targetPort: 9100 }] });
  });

  it('withdraws the endpoints of a deleted slice, and of a service that gains a selector', () => {
    const endpoints = '[{addresses: [192.168.1.20]}, {addresses: [10.1.0.5], targetRef: {kind: Pod, name: db-0}}]';
    const store = storeWith(namespace, pod('db-0', '10.1.0.5'), service(), slice('db-1', endpoints));
    const deltas: ModelDelta[] = [];
    store.subscribe((d) => deltas.push(d));
    assert.equal(model(store).workloads.length, 2);

    store.update((r) => r.applyText('mesh.yaml', [namespace, pod('db-0', '10.1.0.5'), service()].join('---\n')));
    let m = model(store);
    assert.deepEqual(m.workloads.map((w) => w.name), ['db-0']);
    assert.deepEqual(byName(m, 'db-0')?.services, {});
    assert.deepEqual(deltas.at(-1)?.removedWorkloads, ['Kubernetes/discovery.k8s.io/EndpointSlice/demo/db-1/192.168.1.20']);

    store.update((r) => r.applyText('mesh.yaml', [namespace, pod('db-0', '10.1.0.5'), service(), slice('db-1', endpoints)].join('---\n')));
    assert.equal(model(store).workloads.length, 2);
    store.update((r) => r.applyText('mesh.yaml', [namespace, pod('db-0', '10.1.0.5'), service('selector: {app: other}'), slice('db-1', endpoints)].join('---\n')));
    m = model(store);
    assert.deepEqual(m.workloads.map((w) => w.name), ['db-0']);
    assert.deepEqual(byName(m, 'db-0')?.services, {});
  });

  it('moves the endpoints of a slice relabelled to another service in the same update', () => {
    const other = service().replace('name: db,', 'name: db2,').replace('10.96.0.20', '10.96.0.21');
    const relabelled = slice('db-1', '[{addresses: [192.168.1.20]}]').replace('service-name: db}', 'service-name: db2}');
    const store = storeWith(namespace, service(), slice('db-1', '[{addresses: [192.168.1.20]}]'));
    store.update((r) => r.applyText('mesh.yaml', [namespace, other, service(), relabelled].join('---\n')));
    const m = model(store);
    assert.deepEqual(m.workloads.map((w) => Object.keys(w.services)), [['demo/db2.demo.svc.cluster.local']]);
  });

  it('moves an endpoint from its own workload to the pod when the pod appears, and back when it goes', () => {
    const store = storeWith(namespace, service(), slice('db-1', '[{addresses: [10.1.0.5], targetRef: {kind: Pod, name: db-0}}]'));
    assert.deepEqual(model(store).workloads.map((w) => w.uid), ['Kubernetes/discovery.k8s.io/EndpointSlice/demo/db-1/10.1.0.5']);
    store.update((r) => r.applyText('pod.yaml', pod('db-0', '10.1.0.5')));
    assert.deepEqual(model(store).workloads.map((w) => w.uid), ['Kubernetes//Pod/demo/db-0']);
    store.update((r) => r.removeSource('pod.yaml'));
    assert.deepEqual(model(store).workloads.map((w) => w.uid), ['Kubernetes/discovery.k8s.io/EndpointSlice/demo/db-1/10.1.0.5']);
  });
});
