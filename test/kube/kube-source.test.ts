// Kube tier: KubeSource against a real kube-apiserver. The ConfigStore model follows namespaces,
// service accounts, pods (the test plays the kubelet), services and the EndpointSlices of a
// service without a selector (discovery.k8s.io/v1beta1 on this 1.20 server); an absent CRD kind is a
// warning and is picked up once installed; a SIGKILLed API server leaves the model as it was, and
// after a restart changes made before the source resynced converge with no duplicate objects.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ConfigStore } from '../../shared/config/config-store.js';
import type { Workload } from '../../shared/config/model.js';
import { createLogger } from '../../shared/log.js';
import { KubeSource } from '../../controlplane/kube-source.js';
import { apiServerUnavailable, startApiServer, type ApiServer } from '../support/kube-apiserver.js';
import { createNamespace, createPod, createService, createServiceAccount, installMeshCrds, meshKinds, setPodStatus } from '../support/kube-fixtures.js';
import { within } from '../support/within.js';

const skip = apiServerUnavailable();
const ns = 'shop';
const reviewsHost = `${ns}/reviews.${ns}.svc.cluster.local`;
const policy = meshKinds.AuthorizationPolicy;

/** Polls until `check` returns a value (not undefined/false), or fails naming `what`. */
async function eventually<T>(check: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
  const poll = async (): Promise<T> => {
    for (;;) {
      const v = check();
      if (v !== undefined && v !== false) return v;
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return within(poll(), timeoutMs, what);
}

describe('KubeSource', { skip }, () => {
  let server: ApiServer;
  let store: ConfigStore;
  let source: KubeSource;
  const logs: { msg: string; kind?: string; level: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as (typeof logs)[number]);
      cb();
    },
  });
  const core = (): CoreV1Api => server.kubeConfig.makeApiClient(CoreV1Api);
  const workload = (name: string): Workload | undefined => store.model.workloads.find((w) => w.name === name && w.namespace === ns);
  const podSources = (): string[] => store.resources.sourceNames().filter((s) => s.startsWith('kube:Pod/'));
  const duplicateErrors = (): string[] => store.errors.filter((e) => e.reason.startsWith('duplicate')).map((e) => `${e.source}: ${e.reason}`);

  before(async () => {
    server = await startApiServer();
  });
  after(async () => {
    source?.close();
    await server?.stop();
  });

  it('lists and watches core kinds with the CRDs absent, warning about each missing kind', async () => {
    // Some objects exist before the source starts (initial list), the rest arrive by watch.
    await createNamespace(server.kubeConfig, ns, { 'istio.io/dataplane-mode': 'ambient' });
    await createServiceAccount(server.kubeConfig, ns, 'reviews');
    await createPod(server.kubeConfig, { namespace: ns, name: 'reviews-1', labels: { app: 'reviews' }, serviceAccountName: 'reviews', containerPorts: [9080], podIP: '10.244.0.7' });
    store = new ConfigStore({ trustDomain: 'cluster.local' });
    let updates = 0;
    store.subscribe(() => updates++);
    source = new KubeSource({ kubeConfig: server.kubeConfig, store, logger: createLogger({ level: 'debug', destination: sink }), crdRetryMs: 300, backoffMs: { initial: 100, max: 1_000 } });
    await within(source.start(), 15_000, 'KubeSource.start()');
    assert.ok(updates <= 2, `initial list published ${updates} deltas`);
    assert.deepEqual(workload('reviews-1')?.addresses, ['10.244.0.7']);
    const missing = logs.filter((l) => l.msg.includes('not installed')).map((l) => l.kind);
    for (const k of Object.keys(meshKinds)) assert.ok(missing.includes(k), `no warning for absent ${k}: ${JSON.stringify(missing)}`);

    // Ports named on the container, resolved through the service's named targetPort.
    const podWithNamedPort = async (name: string, ip: string): Promise<void> => {
      await core().createNamespacedPod({
        namespace: ns,
        body: { metadata: { name, namespace: ns, labels: { app: 'reviews' } }, spec: { serviceAccountName: 'reviews', containers: [{ name: 'app', image: 'example.invalid/app:1', ports: [{ name: 'http', containerPort: 9081 }] }] } },
      });
      await setPodStatus(server.kubeConfig, ns, name, { podIP: ip });
    };
    await podWithNamedPort('reviews-2', '10.244.0.8');
    await createService(server.kubeConfig, { namespace: ns, name: 'reviews', selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 'http' }] });
    const w2 = await eventually(() => { const w = workload('reviews-2'); return w?.services[reviewsHost] ? w : undefined; }, 'reviews-2 as an endpoint of reviews');
    assert.equal(w2.tunnelProtocol, 'HBONE');
    assert.equal(w2.serviceAccount, 'reviews');
    assert.deepEqual(w2.addresses, ['10.244.0.8']);
    assert.deepEqual(w2.services[reviewsHost], [{ servicePort: 9080, targetPort: 9081 }]);
    // reviews-1 names no port "http": not an endpoint of the named target port, as in Kubernetes.
    assert.equal(workload('reviews-1')?.services[reviewsHost], undefined);
    const svc = store.model.services.find((s) => s.name === 'reviews');
    assert.match(svc?.addresses[0] ?? '', /^10\.96\./);
    assert.deepEqual(svc?.ports, [{ servicePort: 9080, targetPort: 0, targetPortName: 'http' }]);
    assert.deepEqual(store.errors, []);
  });

  it('picks the CRD kinds up once installed', async () => {
    await installMeshCrds(server.kubeConfig);
    await server.kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: policy.group,
      version: 'v1',
      namespace: ns,
      plural: policy.plural,
      body: { apiVersion: `${policy.group}/v1`, kind: policy.kind, metadata: { name: 'reviews-viewer' }, spec: { selector: { matchLabels: { app: 'reviews' } }, action: 'ALLOW', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] } },
    });
    await eventually(() => store.resources.resolve().resources.some((r) => r.kind === 'AuthorizationPolicy' && r.meta.name === 'reviews-viewer'), 'the AuthorizationPolicy in the store');
    assert.ok(store.resources.sourceNames().includes('kube:AuthorizationPolicy/shop/reviews-viewer'));
    assert.deepEqual(store.errors, []);
  });

  it('follows the EndpointSlices of a Service without a selector, added and deleted', async () => {
    await core().createNamespacedService({ namespace: ns, body: { metadata: { name: 'db', namespace: ns }, spec: { ports: [{ name: 'sql', port: 5432 }] } } });
    const customs = server.kubeConfig.makeApiClient(CustomObjectsApi);
    const group = 'discovery.k8s.io';
    // v1 from Kubernetes 1.21; this server (1.20) serves v1beta1 only.
    let version = 'v1';
    const endpoint = { addresses: ['192.168.7.20'], conditions: { ready: true } };
    const body = (v: string) => ({
      apiVersion: `${group}/${v}`, kind: 'EndpointSlice', metadata: { name: 'db-external', labels: { 'kubernetes.io/service-name': 'db' } },
      addressType: 'IPv4', endpoints: [v === 'v1' ? { ...endpoint, nodeName: 'node-1' } : { ...endpoint, topology: { 'kubernetes.io/hostname': 'node-1' } }],
      ports: [{ name: 'sql', port: 15432, protocol: 'TCP' }],
    });
    try {
      await customs.createNamespacedCustomObject({ group, version, namespace: ns, plural: 'endpointslices', body: body(version) });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      version = 'v1beta1';
      await customs.createNamespacedCustomObject({ group, version, namespace: ns, plural: 'endpointslices', body: body(version) });
    }
    const dbHost = `${ns}/db.${ns}.svc.cluster.local`;
    const w = await eventually(() => workload('db-external'), 'the slice endpoint as a workload');
    assert.equal(w.uid, `Kubernetes/discovery.k8s.io/EndpointSlice/${ns}/db-external/192.168.7.20`);
    assert.deepEqual(w.addresses, ['192.168.7.20']);
    assert.equal(w.tunnelProtocol, 'NONE');
    assert.equal(w.status, 'HEALTHY');
    assert.equal(w.node, 'node-1');
    assert.deepEqual(w.services, { [dbHost]: [{ servicePort: 5432, targetPort: 15432 }] });
    assert.ok(store.resources.sourceNames().includes(`kube:EndpointSlice/${ns}/db-external`));

    await customs.deleteNamespacedCustomObject({ group, version, namespace: ns, plural: 'endpointslices', name: 'db-external' });
    await eventually(() => workload('db-external') === undefined, 'the slice endpoint removed with its slice');
    assert.ok(store.model.services.some((s) => s.name === 'db'), 'the service stays');
    assert.deepEqual(store.errors, []);
  });

  it('follows a pod relabelled out of the mesh and a pod deleted', async () => {
    const pod = await core().readNamespacedPod({ namespace: ns, name: 'reviews-1' });
    pod.metadata!.labels = { ...pod.metadata!.labels, 'istio.io/dataplane-mode': 'none' };
    await core().replaceNamespacedPod({ namespace: ns, name: 'reviews-1', body: pod });
    await eventually(() => workload('reviews-1')?.tunnelProtocol === 'NONE', 'reviews-1 out of the mesh (NONE)');
    await core().deleteNamespacedPod({ namespace: ns, name: 'reviews-1', gracePeriodSeconds: 0 });
    await eventually(() => workload('reviews-1') === undefined, 'reviews-1 removed');
    assert.deepEqual(podSources(), ['kube:Pod/shop/reviews-2']);
    assert.ok(workload('reviews-2'));
  });

  it('keeps the model while the API server is dead and converges after its restart', async () => {
    await createPod(server.kubeConfig, { namespace: ns, name: 'ratings-1', labels: { app: 'ratings' }, serviceAccountName: 'reviews', podIP: '10.244.0.9' });
    await eventually(() => workload('ratings-1'), 'ratings-1');
    const version = store.version;
    const model = JSON.stringify(store.model);
    await server.kill('SIGKILL');
    // Long enough for every watch to notice and a few restart attempts to fail.
    await eventually(() => logs.some((l) => l.msg === 'kube list/watch failed; restarting'), 'a restart warning', 5_000);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(store.version, version);
    assert.equal(JSON.stringify(store.model), model);

    await server.restart();
    // Changes right after the restart, before the sources' backoff has brought their watches back.
    await createPod(server.kubeConfig, { namespace: ns, name: 'reviews-3', labels: { app: 'reviews' }, serviceAccountName: 'reviews', podIP: '10.244.0.10' });
    await core().deleteNamespacedPod({ namespace: ns, name: 'reviews-2', gracePeriodSeconds: 0 });
    await eventually(() => workload('reviews-3') && workload('reviews-2') === undefined, 'reviews-3 in and reviews-2 out after the restart', 15_000);
    assert.deepEqual(podSources(), ['kube:Pod/shop/ratings-1', 'kube:Pod/shop/reviews-3']);
    assert.deepEqual(store.model.workloads.map((w) => w.name).sort(), ['ratings-1', 'reviews-3']);
    assert.deepEqual(workload('reviews-3')?.addresses, ['10.244.0.10']);
    assert.deepEqual(duplicateErrors(), []);
    assert.deepEqual(store.errors, []);
    // Still watching: a later change arrives too.
    await core().deleteNamespacedPod({ namespace: ns, name: 'ratings-1', gracePeriodSeconds: 0 });
    await eventually(() => workload('ratings-1') === undefined, 'ratings-1 removed after the restart');
  });
});
