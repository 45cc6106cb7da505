// Kube tier: proves the real-API-server harness (test/support/kube-apiserver.ts, kube-fixtures.ts):
// objects and Istio CRs round-trip with their specs, watches see the kubelet's status writes, data
// survives a kube-apiserver crash, and stop() leaves no process behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, CustomObjectsApi, Watch, type V1Pod } from '@kubernetes/client-node';
import { apiServerUnavailable, processesMentioning, startApiServer, type ApiServer } from '../support/kube-apiserver.js';
import { createNamespace, createPod, createService, installMeshCrds, meshKinds, setPodStatus } from '../support/kube-fixtures.js';
import { within } from '../support/within.js';

const skip = apiServerUnavailable();
const ns = 'shop';
const policy = meshKinds.AuthorizationPolicy;
const policySpec = {
  selector: { matchLabels: { app: 'reviews' } },
  action: 'ALLOW',
  rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/productpage'] } }], to: [{ operation: { methods: ['GET'], ports: ['9080'] } }] }],
};

interface CustomObjectList {
  items: { metadata: { name: string }; spec: unknown }[];
}

describe('kube-apiserver harness', { skip }, () => {
  let server: ApiServer;

  before(async () => {
    server = await startApiServer();
  });
  after(async () => {
    await server?.stop();
  });

  const core = (): CoreV1Api => server.kubeConfig.makeApiClient(CoreV1Api);
  const customs = (): CustomObjectsApi => server.kubeConfig.makeApiClient(CustomObjectsApi);

  it('serves namespaces, pods, services and Istio custom resources with their specs intact', async () => {
    await installMeshCrds(server.kubeConfig);
    await createNamespace(server.kubeConfig, ns, { 'istio.io/dataplane-mode': 'ambient' });
    await createPod(server.kubeConfig, { namespace: ns, name: 'reviews-1', labels: { app: 'reviews' }, containerPorts: [9080], podIP: '10.244.0.7' });
    await createService(server.kubeConfig, { namespace: ns, name: 'reviews', selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] });
    await customs().createNamespacedCustomObject({
      group: policy.group,
      version: policy.versions[0],
      namespace: ns,
      plural: policy.plural,
      body: { apiVersion: `${policy.group}/${policy.versions[0]}`, kind: policy.kind, metadata: { name: 'reviews-viewer' }, spec: policySpec },
    });

    const namespace = await core().readNamespace({ name: ns });
    assert.equal(namespace.metadata?.labels?.['istio.io/dataplane-mode'], 'ambient');
    const pods = await core().listNamespacedPod({ namespace: ns });
    assert.deepEqual(
      pods.items.map((p) => [p.metadata?.name, p.status?.podIP, p.status?.conditions?.find((c) => c.type === 'Ready')?.status]),
      [['reviews-1', '10.244.0.7', 'True']],
    );
    const services = await core().listNamespacedService({ namespace: ns });
    assert.equal(services.items.length, 1);
    assert.deepEqual(services.items[0]?.spec?.selector, { app: 'reviews' });
    assert.match(services.items[0]?.spec?.clusterIP ?? '', /^10\.96\./);
    // Read through another served version too: the CRD converts with strategy None.
    for (const version of policy.versions) {
      const list = (await customs().listNamespacedCustomObject({ group: policy.group, version, namespace: ns, plural: policy.plural })) as CustomObjectList;
      assert.deepEqual(
        list.items.map((i) => [i.metadata.name, i.spec]),
        [['reviews-viewer', policySpec]],
      );
    }
  });

  it('streams ADDED then MODIFIED to a pod watch when the kubelet writes the pod status', async () => {
    const events: [string, V1Pod][] = [];
    let notify = (): void => undefined;
    const seen = (n: number): Promise<void> =>
      new Promise((resolve) => {
        notify = () => {
          if (events.length >= n) resolve();
        };
        notify();
      });
    const controller = await new Watch(server.kubeConfig).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { fieldSelector: 'metadata.name=ratings-1' },
      (type, obj: V1Pod) => {
        events.push([type, obj]);
        notify();
      },
      () => undefined,
    );
    try {
      await createPod(server.kubeConfig, { namespace: ns, name: 'ratings-1', labels: { app: 'ratings' } });
      await within(seen(1), 10_000, 'the ADDED event');
      await setPodStatus(server.kubeConfig, ns, 'ratings-1', { podIP: '10.244.0.8' });
      await within(seen(2), 10_000, 'the MODIFIED event');
    } finally {
      controller.abort();
    }
    assert.deepEqual(
      events.map(([type, pod]) => [type, pod.status?.podIP]),
      [
        ['ADDED', undefined],
        ['MODIFIED', '10.244.0.8'],
      ],
    );
  });

  it('keeps its objects across a SIGKILL and restart of kube-apiserver because etcd keeps running', async () => {
    const before = server.pids();
    await server.kill('SIGKILL');
    await assert.rejects(core().listNamespacedPod({ namespace: ns }));
    await server.restart();
    const pods = await core().listNamespacedPod({ namespace: ns });
    assert.deepEqual(pods.items.map((p) => p.metadata?.name).sort(), ['ratings-1', 'reviews-1']);
    const list = (await customs().listNamespacedCustomObject({ group: policy.group, version: policy.versions[0], namespace: ns, plural: policy.plural })) as CustomObjectList;
    assert.deepEqual(list.items[0]?.spec, policySpec);
    // Same etcd as before the crash, a new kube-apiserver.
    const after = server.pids();
    assert.equal(after.length, 2);
    assert.equal(after.filter((pid) => before.includes(pid)).length, 1);
  });

  it('leaves no kube-apiserver or etcd process and no state dir behind after stop()', async () => {
    const started = server.pids();
    assert.equal(started.length, 2);
    const mentioning = processesMentioning(server.stateDir);
    for (const pid of started) assert.ok(mentioning.includes(pid), `pid ${pid} not found by its state dir`);
    await server.stop();
    // Also catches the watchdogs, whose command lines name the state dir too.
    assert.deepEqual(processesMentioning(server.stateDir), []);
    assert.deepEqual(server.pids(), []);
    assert.equal(existsSync(server.stateDir), false);
  });
});
