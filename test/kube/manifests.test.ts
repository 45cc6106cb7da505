// Kube tier: manifests/ against a real kube-apiserver. Every object of `kubectl apply -k manifests/`
// passes a server-side dry run (which creates nothing), then is applied for real; the waypoint
// template, filled in, passes a dry run too. The control plane then runs as a real process
// (`ambit controlplane --source kube`) with a kubeconfig holding a token for the manifests'
// ServiceAccount ambit-system/controlplane (not admin): it lists and watches every kind, builds
// the model a config client sees, its waypoint reconciler creates a waypoint Gateway's workload,
// and its CA authenticates a ztunnel by TokenReview. What the ClusterRole does not grant (DaemonSets,
// Secrets, deleting...) is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApiextensionsV1Api, AppsV1Api, AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, PatchStrategy, type KubernetesObject,
  type V1Container, type V1Deployment, type V1Volume,
} from '@kubernetes/client-node';
import { rootCertConfigMapName, rootCertKey } from '../../controlplane/root-cert-publisher.js';
import { controlPlaneIdentity } from '../../shared/xds/credentials.js';
import { CaClient } from '../../shared/xds/ca-client.js';
import { ConfigClient } from '../../shared/xds/config-client.js';
import { controlPlaneChannelCredentials } from '../../shared/xds/credentials.js';
import { createLogger } from '../../shared/log.js';
import { apiServerUnavailable, startApiServer, type ApiServer } from '../support/kube-apiserver.js';
import { createNamespace, createPod, createServiceAccount } from '../support/kube-fixtures.js';
import { loadKustomization, loadTemplate } from '../support/kustomization.js';
import { ambitCli, serviceAccountKubeconfig, spawnControlPlane, waitFor, type ControlPlaneProcess } from './controlplane-process.js';

const skip = apiServerUnavailable();
const repoRoot = new URL('../../../', import.meta.url).pathname;
const td = 'cluster.local';
const cpUser = 'system:serviceaccount:ambit-system:controlplane';
const fieldManager = 'ambit-install-test';

const label = (o: KubernetesObject): string => `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
const code = (err: unknown): number | undefined => (err as { code?: number }).code;

function assertMountsRootCert(volumes: readonly V1Volume[], container: V1Container): void {
  const vol = volumes.find((v) => v.configMap?.name === rootCertConfigMapName);
  assert.ok(vol, `a volume of ConfigMap ${rootCertConfigMapName}`);
  const mount = container.volumeMounts!.find((m) => m.name === vol.name)!;
  assert.ok(container.args!.includes(`--root-cert=${mount.mountPath}/${rootCertKey}`), `--root-cert=${mount.mountPath}/${rootCertKey}`);
}

describe('manifests/ on a real API server', { skip }, () => {
  let server: ApiServer;
  let objects: KubernetesObject[];
  const work = mkdtempSync(join(tmpdir(), 'ambit-manifests-'));
  let cp: ControlPlaneProcess | undefined;

  before(async () => {
    server = await startApiServer();
    objects = loadKustomization(join(repoRoot, 'manifests'));
  });
  after(async () => {
    await cp?.stop();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const api = (): KubernetesObjectApi => KubernetesObjectApi.makeApiClient(server.kubeConfig);
  const apply = (o: KubernetesObject, dryRun?: 'All'): Promise<KubernetesObject> =>
    api().patch(o, undefined, dryRun, fieldManager, true, PatchStrategy.ServerSideApply);

  it('holds the CRDs, namespace, control plane and ztunnel the install needs', () => {
    const names = objects.map(label);
    for (const expected of [
      'CustomResourceDefinition/authorizationpolicies.security.istio.io', 'CustomResourceDefinition/httproutes.gateway.networking.k8s.io',
      'Namespace/ambit-system', 'ServiceAccount/ambit-system/controlplane', 'ClusterRole/ambit-controlplane', 'ClusterRoleBinding/ambit-controlplane',
      'Deployment/ambit-system/controlplane', 'Service/ambit-system/controlplane', 'ServiceAccount/ambit-system/ztunnel', 'DaemonSet/ambit-system/ztunnel',
    ]) assert.ok(names.includes(expected), `${expected} missing from ${names.join(', ')}`);
    assert.equal(objects.filter((o) => o.kind === 'CustomResourceDefinition').length, 7);
    assert.equal(new Set(names).size, names.length, 'no object twice');
  });

  it('passes a server-side dry run of every object, and the dry run creates nothing', async () => {
    const clusterScoped = objects.filter((o) => !o.metadata?.namespace);
    for (const o of clusterScoped) await assert.doesNotReject(apply(o, 'All'), `dry run of ${label(o)}`);
    await assert.rejects(server.kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: 'ambit-system' }), (err) => code(err) === 404);
    // Namespaced objects need their namespace to exist, dry run or not (NamespaceLifecycle admission).
    await apply(objects.find((o) => o.kind === 'Namespace')!);
    for (const o of objects.filter((x) => x.metadata?.namespace)) await assert.doesNotReject(apply(o, 'All'), `dry run of ${label(o)}`);
    await assert.rejects(server.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDaemonSet({ namespace: 'ambit-system', name: 'ztunnel' }), (err) => code(err) === 404);
  });

  it('applies for real: CRDs become Established with their schemas kept, workloads match the CLI', async () => {
    for (const o of objects) await apply(o);
    const ext = server.kubeConfig.makeApiClient(ApiextensionsV1Api);
    for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
      const live = await waitFor(`${crd.metadata!.name} Established`, async () => {
        const c = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ? c : undefined;
      });
      for (const v of live.spec.versions) assert.equal(v.schema?.openAPIV3Schema?.properties?.['spec']?.x_kubernetes_preserve_unknown_fields, true, `${crd.metadata!.name} ${v.name}`);
    }
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    const ds = await apps.readNamespacedDaemonSet({ namespace: 'ambit-system', name: 'ztunnel' });
    const pod = ds.spec!.template.spec!;
    const z = pod.containers[0]!;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.priorityClassName, 'system-node-critical');
    assert.deepEqual({ ...z.securityContext?.capabilities }, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    assert.equal(z.readinessProbe?.httpGet?.port, 15021);
    assert.equal(z.readinessProbe?.httpGet?.path, '/healthz/ready');
    // The grace period covers the drain plus a few seconds to exit.
    const drainS = Number(/^--drain=(\d+)s$/.exec(z.args!.find((a) => a.startsWith('--drain='))!)![1]);
    assert.ok(pod.terminationGracePeriodSeconds! > drainS && pod.terminationGracePeriodSeconds! <= drainS + 10, `grace ${pod.terminationGracePeriodSeconds} s vs drain ${drainS} s`);
    assert.equal(z.env?.find((e) => e.name === 'NODE_NAME')?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName');
    const token = pod.volumes!.find((v) => v.projected)!.projected!.sources![0]!.serviceAccountToken!;
    assert.equal(token.audience, 'ambit');
    assert.ok(z.args!.includes(`--token-file=/var/run/ambit/token/${token.path}`));
    const cpDeploy = await apps.readNamespacedDeployment({ namespace: 'ambit-system', name: 'controlplane' });
    assert.equal(cpDeploy.spec!.template.spec!.serviceAccountName, controlPlaneIdentity(td).serviceAccount, 'the SA is the control plane\'s mesh identity');
    // Non-root (the image's uid 1000) and able to read the CA Secret through its group.
    const cpPod = cpDeploy.spec!.template.spec!;
    assert.equal(cpPod.securityContext?.runAsNonRoot, true);
    assert.equal(cpPod.securityContext?.fsGroup, cpPod.securityContext?.runAsUser);
    assert.equal((cpPod.volumes!.find((v) => v.secret)!.secret!.defaultMode! & 0o040), 0o040);
    // Probes on the port the control plane's --health serves.
    const c = cpPod.containers[0]!;
    assert.ok(c.args!.includes('--health=0.0.0.0:15021'));
    assert.deepEqual([c.readinessProbe?.httpGet?.path, c.readinessProbe?.httpGet?.port], ['/healthz/ready', 15021]);
    assert.deepEqual([c.livenessProbe?.httpGet?.path, c.livenessProbe?.httpGet?.port], ['/healthz/live', 15021]);
    // ztunnel mounts the ConfigMap the control plane publishes, at the path its --root-cert names.
    assertMountsRootCert(pod.volumes ?? [], z);
  });

  it('accepts the waypoint template, filled in, in a dry run', async () => {
    await createNamespace(server.kubeConfig, 'shop', { 'istio.io/dataplane-mode': 'ambient' });
    const tpl = loadTemplate(join(repoRoot, 'manifests', 'waypoint', 'waypoint-template.yaml'), { GATEWAY: 'reviews', NAMESPACE: 'shop' });
    assert.deepEqual(tpl.map(label), ['ServiceAccount/shop/reviews-istio-waypoint', 'Deployment/shop/reviews-istio-waypoint', 'Service/shop/reviews-istio-waypoint']);
    for (const o of tpl) await assert.doesNotReject(apply(o, 'All'), `dry run of ${label(o)}`);
    const wpPod = (tpl.find((o) => o.kind === 'Deployment') as V1Deployment).spec!.template.spec!;
    assertMountsRootCert(wpPod.volumes ?? [], wpPod.containers[0]!);
  });

  it('creates the waypoint Gateway with `ambit waypoint apply --apply`, and applying it again changes nothing', async () => {
    const run = (): string => {
      const r = spawnSync(process.execPath, [ambitCli, 'waypoint', 'apply', '--service-account', 'echo', '-n', 'shop', '--apply'],
        { env: { ...process.env, KUBECONFIG: server.kubeconfigPath }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout;
    };
    assert.match(run(), /echo-istio-waypoint for service account echo/);
    const customs = server.kubeConfig.makeApiClient(CustomObjectsApi);
    const read = async (): Promise<{ metadata: { resourceVersion: string; annotations: Record<string, string> }; spec: unknown }> =>
      (await customs.getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'shop', plural: 'gateways', name: 'echo' })) as never;
    const first = await read();
    assert.equal(first.metadata.annotations['istio.io/for-service-account'], 'echo');
    assert.deepEqual(first.spec, { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] });
    run();
    assert.equal((await read()).metadata.resourceVersion, first.metadata.resourceVersion);
  });

  it('grants the control plane read access to what it watches, TokenReview creation and the waypoint writes, and nothing else', async () => {
    const authz = server.kubeConfig.makeApiClient(AuthorizationV1Api);
    const can = async (verb: string, group: string, resource: string): Promise<boolean> =>
      (await authz.createSubjectAccessReview({ body: { spec: { user: cpUser, resourceAttributes: { verb, group, resource } } } })).status!.allowed;
    const watched: [string, string][] = [['', 'namespaces'], ['', 'pods'], ['', 'services'], ['', 'serviceaccounts'], ['discovery.k8s.io', 'endpointslices'],
      ['security.istio.io', 'authorizationpolicies'], ['security.istio.io', 'peerauthentications'], ['security.istio.io', 'requestauthentications'],
      ['networking.istio.io', 'virtualservices'], ['networking.istio.io', 'destinationrules'], ['gateway.networking.k8s.io', 'gateways'], ['gateway.networking.k8s.io', 'httproutes']];
    for (const [g, r] of watched) for (const verb of ['get', 'list', 'watch']) assert.ok(await can(verb, g, r), `${verb} ${r}`);
    assert.ok(await can('create', 'authentication.k8s.io', 'tokenreviews'));
    // The waypoint reconciler's writes (and deletes, for a Gateway that is gone).
    for (const [g, r] of [['apps', 'deployments'], ['', 'services'], ['', 'serviceaccounts']] as const) for (const verb of ['create', 'update', 'patch', 'delete']) assert.ok(await can(verb, g, r), `${verb} ${r}`);
    for (const [verb, g, r] of [['create', 'apps', 'daemonsets'], ['list', '', 'secrets'], ['list', '', 'configmaps'], ['update', '', 'pods'], ['delete', '', 'pods'],
      ['delete', '', 'namespaces'], ['list', '', 'nodes'], ['create', 'gateway.networking.k8s.io', 'gateways'], ['create', 'rbac.authorization.k8s.io', 'rolebindings']] as const) {
      assert.equal(await can(verb, g, r), false, `${verb} ${g}/${r} must not be granted`);
    }
    // The root certificate ConfigMap: its one name only (create cannot be limited by name).
    const canCm = async (verb: string, name?: string): Promise<boolean> =>
      (await authz.createSubjectAccessReview({ body: { spec: { user: cpUser, resourceAttributes: { verb, resource: 'configmaps', namespace: 'shop', ...(name ? { name } : {}) } } } })).status!.allowed;
    for (const verb of ['get', 'list', 'watch', 'update']) assert.ok(await canCm(verb, 'ambit-root-cert'), `${verb} configmaps/ambit-root-cert`);
    assert.ok(await canCm('create'));
    for (const [verb, name] of [['get', 'kube-root-ca.crt'], ['update', 'app-settings'], ['patch', 'ambit-root-cert'], ['delete', 'ambit-root-cert'], ['list', undefined]] as const) {
      assert.equal(await canCm(verb, name), false, `${verb} configmaps/${name ?? '*'} must not be granted`);
    }
  });

  it('runs the control plane under its ServiceAccount token: it builds the model and a denied write is refused', { timeout: 90_000 }, async () => {
    const core = server.kubeConfig.makeApiClient(CoreV1Api);
    const kubeconfigPath = await serviceAccountKubeconfig(server, work, 'ambit-system', 'controlplane');
    const cpKube = new KubeConfig();
    cpKube.loadFromFile(kubeconfigPath);
    // A missing permission is an explicit 403 naming the account, not a silent failure.
    await assert.rejects(cpKube.makeApiClient(AppsV1Api).createNamespacedDaemonSet({ namespace: 'shop', body: { metadata: { name: 'x' }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'x', image: 'x' }] } } } } }),
      (err) => code(err) === 403 && String((err as Error).message).includes(cpUser));
    await assert.rejects(cpKube.makeApiClient(CoreV1Api).listSecretForAllNamespaces(), (err) => code(err) === 403);

    await createServiceAccount(server.kubeConfig, 'shop', 'echo');
    await createPod(server.kubeConfig, { namespace: 'shop', name: 'echo-1', serviceAccountName: 'echo', nodeName: 'node-1', podIP: '10.244.1.5' });
    const caDir = join(work, 'ca');
    const template = join(repoRoot, 'manifests', 'waypoint', 'waypoint-template.yaml');
    cp = spawnControlPlane(kubeconfigPath, ['--listen', '127.0.0.1:0', '--ca-dir', caDir, '--trust-domain', td, '--waypoint-template', template]);
    const cpLogs = cp.logs;
    // A kind the ClusterRole does not grant keeps failing with 403 and the control plane never gets ready.
    const ready = await cp.waitLog('control plane ready', (l) => l['msg'] === 'control plane ready');
    assert.equal(ready['workloads'], 1, 'echo-1 is in the first model');
    // Every list/watch succeeded under the account: no forbidden kind, no missing CRD.
    assert.deepEqual(cp.warnings(), []);

    const roots = readFileSync(join(caDir, 'root-cert.pem'), 'utf8');
    const credentials = controlPlaneChannelCredentials(roots, [controlPlaneIdentity(td)]);
    const address = `127.0.0.1:${String(ready['port'])}`;
    const client = new ConfigClient({ address, credentials, node: 'node-1', kind: 'ztunnel', logger: createLogger({ level: 'silent' }) });
    client.start();
    try {
      await client.ready();
      const echo = [...client.workloads.values()].find((w) => w.name === 'echo-1');
      assert.deepEqual(echo?.addresses, ['10.244.1.5']);
      // The watch follows: a new pod reaches the config client.
      await createPod(server.kubeConfig, { namespace: 'shop', name: 'echo-2', serviceAccountName: 'echo', nodeName: 'node-1', podIP: '10.244.1.6' });
      await waitFor('echo-2 in the model', () => [...client.workloads.values()].find((w) => w.name === 'echo-2'));
    } finally {
      client.close();
    }

    // The waypoint reconciler, under the same account, created the workload of Gateway shop/echo
    // (from the `waypoint apply` test above), owned by the Gateway.
    const gw = (await server.kubeConfig.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', namespace: 'shop', plural: 'gateways', name: 'echo' })) as KubernetesObject;
    const apps = server.kubeConfig.makeApiClient(AppsV1Api);
    const wp = await waitFor('Deployment shop/echo-istio-waypoint', () => apps.readNamespacedDeployment({ namespace: 'shop', name: 'echo-istio-waypoint' }).catch(() => undefined));
    assert.deepEqual(wp.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}/${o.uid}`), [`Gateway/echo/${gw.metadata!.uid}`]);
    assert.ok(wp.spec?.template.spec?.containers[0]?.args?.includes('--gateway=shop/echo'));
    await core.readNamespacedService({ namespace: 'shop', name: 'echo-istio-waypoint' });
    await core.readNamespacedServiceAccount({ namespace: 'shop', name: 'echo-istio-waypoint' });
    assert.deepEqual(cpLogs.filter((l) => l['msg'] === 'waypoint reconcile failed; retrying'), []);

    // The CA authenticates a ztunnel by TokenReview and reads its pod, both under the account.
    await createPod(server.kubeConfig, { namespace: 'ambit-system', name: 'ztunnel-node1', serviceAccountName: 'ztunnel', nodeName: 'node-1' });
    const zpod = await core.readNamespacedPod({ namespace: 'ambit-system', name: 'ztunnel-node1' });
    const ztoken = await core.createNamespacedServiceAccountToken({ namespace: 'ambit-system', name: 'ztunnel',
      body: { spec: { audiences: ['ambit'], expirationSeconds: 600, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'ztunnel-node1', uid: zpod.metadata!.uid } } } });
    const ca = new CaClient({ address, credentials, token: () => ztoken.status!.token! });
    try {
      const id = { trustDomain: td, namespace: 'shop', serviceAccount: 'echo' };
      assert.deepEqual((await ca.fetch(id)).identity, id);
    } finally {
      ca.close();
    }

    // The API server dies (SIGKILL) and comes back: a Gateway created afterwards still gets its workload.
    await server.kill('SIGKILL');
    await server.restart();
    const r = spawnSync(process.execPath, [ambitCli, 'waypoint', 'apply', '--service-account', 'echo', '--name', 'echo-late', '-n', 'shop', '--apply'],
      { env: { ...process.env, KUBECONFIG: server.kubeconfigPath }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    await waitFor('Deployment shop/echo-late-istio-waypoint', () => apps.readNamespacedDeployment({ namespace: 'shop', name: 'echo-late-istio-waypoint' }).catch(() => undefined), 30_000);
  });
});
