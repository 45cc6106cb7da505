// Kube tier: the control plane's own control loops against a real kube-apiserver, run as
// `ambit controlplane --source kube` under the manifests' RBAC identity (a token for
// ServiceAccount ambit-system/controlplane, not admin):
// - its health endpoint answers 503 while the API server is down and the first model cannot be
//   compiled, 200 once it is (liveness stays 200 throughout);
// - it publishes the mesh root as ConfigMap ambit-root-cert in every namespace, recreates a deleted
//   copy and repairs an edited one, and cannot read any other ConfigMap;
// - it removes a waypoint's Deployment/Service/ServiceAccount when the Gateway leaves class
//   istio-waypoint or is deleted (no kube-controller-manager runs here, so no garbage collector),
//   and leaves an object it did not create alone.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiextensionsV1Api, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { RootCertPublisher } from '../../controlplane/root-cert-publisher.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { createLogger } from '../../shared/log.js';
import { apiServerUnavailable, startApiServer, type ApiServer } from '../support/kube-apiserver.js';
import { createNamespace } from '../support/kube-fixtures.js';
import { loadKustomization } from '../support/kustomization.js';
import { freePort } from '../support/ports.js';
import { serviceAccountKubeconfig, spawnControlPlane, waitFor, type ControlPlaneProcess } from './controlplane-process.js';

const skip = apiServerUnavailable();
const repoRoot = new URL('../../../', import.meta.url).pathname;
const code = (err: unknown): number | undefined => (err as { code?: number }).code;
const gatewayApi = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' } as const;

async function probe(port: number, path: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

describe('the control plane\'s loops on a real API server, under its ServiceAccount', { skip }, () => {
  let server: ApiServer;
  let cp: ControlPlaneProcess | undefined;
  let healthPort = 0;
  /** Log lines before the first model (the API server was down then, so warnings are expected). */
  let logsBeforeReady = 0;
  let cpKube: KubeConfig;
  const work = mkdtempSync(join(tmpdir(), 'ambit-cp-loops-'));
  const caDir = join(work, 'ca');

  before(async () => {
    server = await startApiServer();
    const api = KubernetesObjectApi.makeApiClient(server.kubeConfig);
    for (const o of loadKustomization(join(repoRoot, 'manifests'))) await api.patch(o, undefined, undefined, 'ambit-test', true, PatchStrategy.ServerSideApply);
    const ext = server.kubeConfig.makeApiClient(ApiextensionsV1Api);
    await waitFor('Gateway CRD Established', async () => {
      const c = await ext.readCustomResourceDefinition({ name: 'gateways.gateway.networking.k8s.io' });
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? true : undefined;
    });
    await createNamespace(server.kubeConfig, 'shop', { 'istio.io/dataplane-mode': 'ambient' });
    const kubeconfigPath = await serviceAccountKubeconfig(server, work, 'ambit-system', 'controlplane');
    cpKube = new KubeConfig();
    cpKube.loadFromFile(kubeconfigPath);
    healthPort = await freePort();
    // The API server is down when the control plane starts: it cannot compile a first model yet.
    await server.kill('SIGKILL');
    cp = spawnControlPlane(kubeconfigPath, ['--listen', '127.0.0.1:0', '--ca-dir', caDir, '--health', `127.0.0.1:${healthPort}`,
      '--waypoint-template', join(repoRoot, 'manifests', 'waypoint', 'waypoint-template.yaml')]);
  });
  after(async () => {
    await cp?.stop();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const core = (): CoreV1Api => server.kubeConfig.makeApiClient(CoreV1Api);
  const readRootCm = (namespace: string) => core().readNamespacedConfigMap({ namespace, name: 'ambit-root-cert' }).catch((err: unknown) => {
    if (code(err) === 404) return undefined;
    throw err;
  });

  it('answers /healthz/ready 503 until the first model is compiled and gRPC listens, then 200; /healthz/live 200 throughout', { timeout: 90_000 }, async () => {
    const notReady = await waitFor('a health answer', () => probe(healthPort, '/healthz/ready'), 20_000);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /first model compiled from the source/);
    assert.equal((await probe(healthPort, '/healthz/live'))?.status, 200);
    // Still not ready a while later: readiness waits for the source, it does not time out into 200.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await probe(healthPort, '/healthz/ready'))?.status, 503);
    assert.equal(cp!.logs.some((l) => l['msg'] === 'control plane ready'), false);

    await server.restart();
    const ready = await waitFor('/healthz/ready 200', async () => {
      const r = await probe(healthPort, '/healthz/ready');
      return r?.status === 200 ? r : undefined;
    }, 60_000);
    assert.equal(ready.body, 'ready\n');
    // 200 only after start() finished: the gRPC port is bound and logged.
    const logged = await cp!.waitLog('control plane ready', (l) => l['msg'] === 'control plane ready');
    assert.ok(Number(logged['port']) > 0);
    assert.equal(Number(logged['health']), healthPort);
    logsBeforeReady = cp!.logs.indexOf(logged);
    assert.equal((await probe(healthPort, '/healthz/live'))?.status, 200);
  });

  it('publishes the CA root as ConfigMap ambit-root-cert (root-cert.pem) in every namespace but the Kubernetes system ones', { timeout: 30_000 }, async () => {
    const root = readFileSync(join(caDir, 'root-cert.pem'), 'utf8');
    for (const ns of ['shop', 'ambit-system', 'default']) {
      const cm = await waitFor(`ambit-root-cert in ${ns}`, () => readRootCm(ns));
      assert.deepEqual({ ...cm.data }, { 'root-cert.pem': root });
      assert.equal(cm.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ambit-controlplane');
    }
    // A namespace created later gets it too; kube-system never does.
    await createNamespace(server.kubeConfig, 'late');
    await waitFor('ambit-root-cert in late', () => readRootCm('late'));
    await core().createNamespace({ body: { metadata: { name: 'kube-system' } } }).catch((err: unknown) => assert.equal(code(err), 409));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await readRootCm('kube-system'), undefined);
  });

  it('recreates the ConfigMap after it is deleted and repairs an edit with the wrong content', { timeout: 30_000 }, async () => {
    const root = readFileSync(join(caDir, 'root-cert.pem'), 'utf8');
    const before = (await readRootCm('shop'))!;
    await core().deleteNamespacedConfigMap({ namespace: 'shop', name: 'ambit-root-cert' });
    const recreated = await waitFor('ambit-root-cert recreated', async () => {
      const cm = await readRootCm('shop');
      return cm && cm.metadata?.uid !== before.metadata?.uid ? cm : undefined;
    });
    assert.equal(recreated.data?.['root-cert.pem'], root);

    await core().replaceNamespacedConfigMap({ namespace: 'shop', name: 'ambit-root-cert', body: { ...recreated, data: { 'root-cert.pem': 'not a certificate\n', extra: 'x' } } });
    const repaired = await waitFor('ambit-root-cert repaired', async () => {
      const cm = await readRootCm('shop');
      return cm?.data?.['root-cert.pem'] === root ? cm : undefined;
    });
    assert.deepEqual(Object.keys(repaired.data ?? {}), ['root-cert.pem']);
    assert.deepEqual(cp!.logs.slice(logsBeforeReady).filter((l) => (l['level'] as number) >= 40), []);
  });

  it('lets the control plane read and watch only the ConfigMap it publishes', async () => {
    const cpCore = cpKube.makeApiClient(CoreV1Api);
    const mine = await cpCore.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=ambit-root-cert' });
    assert.ok(mine.items.length >= 3);
    await assert.rejects(cpCore.listConfigMapForAllNamespaces(), (err) => code(err) === 403);
    await core().createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'app-settings' }, data: { secret: 'x' } } });
    await assert.rejects(cpCore.readNamespacedConfigMap({ namespace: 'shop', name: 'app-settings' }), (err) => code(err) === 403);
    await assert.rejects(cpCore.deleteNamespacedConfigMap({ namespace: 'shop', name: 'ambit-root-cert' }), (err) => code(err) === 403);
  });

  it('deletes a waypoint\'s objects when its Gateway leaves class istio-waypoint or is deleted, and nothing it did not create', { timeout: 60_000 }, async () => {
    const customs = server.kubeConfig.makeApiClient(CustomObjectsApi);
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    const gateway = (name: string): KubernetesObject & { spec: unknown } => ({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name, namespace: 'shop', annotations: { 'istio.io/for-service-account': name } },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    });
    const objectsOf = async (name: string): Promise<string[]> => {
      const n = `${name}-istio-waypoint`;
      const found: string[] = [];
      if (await apps.readNamespacedDeployment({ namespace: 'shop', name: n }).catch(() => undefined)) found.push('Deployment');
      if (await core().readNamespacedService({ namespace: 'shop', name: n }).catch(() => undefined)) found.push('Service');
      if (await core().readNamespacedServiceAccount({ namespace: 'shop', name: n }).catch(() => undefined)) found.push('ServiceAccount');
      return found;
    };
    const all = ['Deployment', 'Service', 'ServiceAccount'];
    for (const name of ['reviews', 'ratings']) await customs.createNamespacedCustomObject({ ...gatewayApi, namespace: 'shop', body: gateway(name) });
    for (const name of ['reviews', 'ratings']) await waitFor(`${name}'s waypoint objects`, async () => ((await objectsOf(name)).length === 3 ? true : undefined));
    // A Deployment the user made, with the Gateway's label but not ours: never touched.
    await apps.createNamespacedDeployment({ namespace: 'shop', body: {
      metadata: { name: 'reviews-helper', labels: { 'gateway.networking.k8s.io/gateway-name': 'reviews' } },
      spec: { selector: { matchLabels: { app: 'helper' } }, template: { metadata: { labels: { app: 'helper' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } },
    } });

    // reviews leaves the class: its objects go; ratings' stay.
    await customs.patchNamespacedCustomObject({ ...gatewayApi, namespace: 'shop', name: 'reviews', body: [{ op: 'replace', path: '/spec/gatewayClassName', value: 'someone-else' }] });
    await waitFor('reviews\' objects removed', async () => ((await objectsOf('reviews')).length === 0 ? true : undefined), 30_000);
    assert.deepEqual(await objectsOf('ratings'), all);

    // ratings is deleted: its objects go too.
    await customs.deleteNamespacedCustomObject({ ...gatewayApi, namespace: 'shop', name: 'ratings' });
    await waitFor('ratings\' objects removed', async () => ((await objectsOf('ratings')).length === 0 ? true : undefined), 30_000);

    // Back in the class: reviews gets its workload again.
    await customs.patchNamespacedCustomObject({ ...gatewayApi, namespace: 'shop', name: 'reviews', body: [{ op: 'replace', path: '/spec/gatewayClassName', value: 'istio-waypoint' }] });
    await waitFor('reviews\' objects back', async () => ((await objectsOf('reviews')).length === 3 ? true : undefined), 30_000);
    assert.ok(await apps.readNamespacedDeployment({ namespace: 'shop', name: 'reviews-helper' }));
    const removed = cp!.logs.filter((l) => l['msg'] === 'waypoint object removed: its Gateway is gone or no longer istio-waypoint').map((l) => String(l['object'])).sort();
    assert.deepEqual(removed, ['Deployment/shop/ratings-istio-waypoint', 'Deployment/shop/reviews-istio-waypoint', 'Service/shop/ratings-istio-waypoint', 'Service/shop/reviews-istio-waypoint',
      'ServiceAccount/shop/ratings-istio-waypoint', 'ServiceAccount/shop/reviews-istio-waypoint']);
    assert.deepEqual(cp!.logs.slice(logsBeforeReady).filter((l) => (l['level'] as number) >= 40), []);
  });

  it('rewrites every namespace\'s ConfigMap when the CA root changes', { timeout: 30_000 }, async () => {
    // The process is replaced by the publisher alone, in-process, still under the account.
    await cp!.stop();
    const oldRoot = readFileSync(join(caDir, 'root-cert.pem'), 'utf8');
    const newRoot = (await CertificateAuthority.create({ trustDomain: 'cluster.local' })).rootsPem;
    // A wrong copy the publisher repairs on start: proof that its namespace list is in.
    const late = (await readRootCm('late'))!;
    await core().replaceNamespacedConfigMap({ namespace: 'late', name: 'ambit-root-cert', body: { ...late, data: { 'root-cert.pem': 'stale' } } });
    const publisher = new RootCertPublisher({ kubeConfig: cpKube, rootsPem: oldRoot, logger: createLogger({ level: 'silent' }), backoffMs: { initial: 50, max: 500 } });
    publisher.start();
    try {
      await waitFor('late repaired', async () => ((await readRootCm('late'))?.data?.['root-cert.pem'] === oldRoot ? true : undefined));
      publisher.setRootsPem(`${newRoot}${oldRoot}`);
      for (const ns of ['shop', 'ambit-system', 'default', 'late']) {
        await waitFor(`the new roots in ${ns}`, async () => ((await readRootCm(ns))?.data?.['root-cert.pem'] === `${newRoot}${oldRoot}` ? true : undefined));
      }
    } finally {
      publisher.close();
    }
  });
});
