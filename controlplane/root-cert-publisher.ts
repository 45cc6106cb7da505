// RootCertPublisher: the mesh root certificate as ConfigMap `ambit-root-cert` (key `root-cert.pem`)
// in every namespace, so ztunnel and waypoint pods can verify the control plane. Istio's
// namespace controller does the same with `istio-ca-root-cert` (same key, every namespace but the
// Kubernetes system ones, skipped while a namespace terminates); Ambit keeps its own name so it
// never fights istiod over that ConfigMap in a cluster that also runs Istio.
// Two list/watches: namespaces (a new namespace gets the ConfigMap) and the ConfigMaps of that
// one name (a deleted or edited copy is written again). Each namespace is reconciled by a read and
// then a create or replace; a failure is retried with backoff. RBAC: only this ConfigMap name may
// be read, watched and updated (manifests/base/controlplane-rbac.yaml), plus create.
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type KubernetesListObject, type V1ConfigMap, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from '../shared/log.js';
import { KeyedRetry, type Backoff } from './keyed-retry.js';

export const rootCertConfigMapName = 'ambit-root-cert';
/** Istio's key (constants.CACertNamespaceConfigMapDataName); the proxies' --root-cert file. */
export const rootCertKey = 'root-cert.pem';
/** Istio's inject.IgnoredNamespaces: no mesh workload runs there. */
export const ignoredNamespaces: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage'];
export const rootCertLabels = { 'app.kubernetes.io/part-of': 'ambit', 'app.kubernetes.io/managed-by': 'ambit-controlplane' } as const;

export type RootCertAction =
  | { readonly action: 'skip'; readonly reason: string }
  | { readonly action: 'none' }
  | { readonly action: 'create'; readonly configMap: V1ConfigMap }
  | { readonly action: 'update'; readonly configMap: V1ConfigMap };

/** Pure: what to do with the ConfigMap of one namespace, given its live copy (if any) and the roots. */
export function buildRootCertAction(ns: { readonly name: string; readonly phase?: string | undefined }, existing: V1ConfigMap | undefined, rootsPem: string): RootCertAction {
  if (ignoredNamespaces.includes(ns.name)) return { action: 'skip', reason: `${ns.name} is a Kubernetes system namespace` };
  if (ns.phase === 'Terminating') return { action: 'skip', reason: `${ns.name} is terminating` };
  if (!rootsPem.includes('-----BEGIN CERTIFICATE-----')) return { action: 'skip', reason: 'no root certificate to publish' };
  const data = { [rootCertKey]: rootsPem };
  if (!existing) return { action: 'create', configMap: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: rootCertConfigMapName, namespace: ns.name, labels: { ...rootCertLabels } }, data } };
  const sameData = Object.keys(existing.data ?? {}).length === 1 && existing.data?.[rootCertKey] === rootsPem && !existing.binaryData;
  const labels = existing.metadata?.labels ?? {};
  const sameLabels = Object.entries(rootCertLabels).every(([k, v]) => labels[k] === v);
  if (sameData && sameLabels) return { action: 'none' };
  // Replace keeps the live copy's resourceVersion: a concurrent write fails with 409 and is retried.
  return { action: 'update', configMap: { ...existing, metadata: { ...existing.metadata, labels: { ...labels, ...rootCertLabels } }, data, binaryData: undefined } };
}

export interface RootCertPublisherOptions {
  readonly kubeConfig: KubeConfig;
  /** The mesh roots (PEM), as the CA hands them to workloads. */
  readonly rootsPem: string;
  readonly logger: Logger;
  /** Retry delay after a failed watch or write: first and cap (default 500 ms doubling to 10 s). */
  readonly backoffMs?: Backoff;
}

const statusOf = (err: unknown): number | undefined => {
  const e = err as { code?: unknown } | undefined;
  return typeof e?.code === 'number' ? e.code : undefined;
};

export class RootCertPublisher {
  private readonly opts: RootCertPublisherOptions;
  private readonly log: Logger;
  private readonly core: CoreV1Api;
  private rootsPem: string;
  private namespaces?: ListWatch<V1Namespace>;
  private configMaps?: ListWatch<V1ConfigMap>;
  private readonly running = new Set<string>();
  private readonly again = new Set<string>();
  private readonly retries: KeyedRetry;
  private closed = false;

  constructor(opts: RootCertPublisherOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.retries = new KeyedRetry(opts.logger, 'root certificate publish failed; retrying', opts.backoffMs);
    this.rootsPem = opts.rootsPem;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
  }

  start(): void {
    this.startNamespaces();
    this.startConfigMaps();
  }

  /** A new set of roots (CA rotation): every namespace's ConfigMap is rewritten. */
  setRootsPem(rootsPem: string): void {
    if (rootsPem === this.rootsPem) return;
    this.rootsPem = rootsPem;
    for (const ns of this.namespaces?.list() ?? []) if (ns.metadata?.name) this.enqueue(ns.metadata.name);
  }

  close(): void {
    this.closed = true;
    void this.namespaces?.stop();
    void this.configMaps?.stop();
    this.namespaces = undefined;
    this.configMaps = undefined;
    this.retries.close();
  }

  private startNamespaces(): void {
    if (this.closed || this.namespaces) return;
    const informer = new ListWatch<V1Namespace>('/api/v1/namespaces', new Watch(this.opts.kubeConfig),
      async () => (await this.core.listNamespace()) as KubernetesListObject<V1Namespace>, false);
    const onNs = (ns: V1Namespace): void => {
      if (ns.metadata?.name) this.enqueue(ns.metadata.name);
    };
    informer.on('add', onNs);
    informer.on('update', onNs);
    this.watchWithRestart(informer, 'watch:namespaces', () => (this.namespaces = undefined), () => this.startNamespaces());
    this.namespaces = informer;
  }

  private startConfigMaps(): void {
    if (this.closed || this.configMaps) return;
    // The field selector is what lets RBAC grant list/watch on this one name (resourceNames).
    const fieldSelector = `metadata.name=${rootCertConfigMapName}`;
    const informer = new ListWatch<V1ConfigMap>('/api/v1/configmaps', new Watch(this.opts.kubeConfig),
      async () => (await this.core.listConfigMapForAllNamespaces({ fieldSelector })) as KubernetesListObject<V1ConfigMap>, false, undefined, fieldSelector);
    const onCm = (cm: V1ConfigMap): void => {
      if (cm.metadata?.namespace) this.enqueue(cm.metadata.namespace);
    };
    informer.on('update', onCm);
    informer.on('delete', onCm);
    this.watchWithRestart(informer, 'watch:configmaps', () => (this.configMaps = undefined), () => this.startConfigMaps());
    this.configMaps = informer;
  }

  private watchWithRestart<T extends V1Namespace | V1ConfigMap>(informer: ListWatch<T>, key: string, forget: () => void, restart: () => void): void {
    const failed = (err: unknown): void => {
      void informer.stop();
      if (this.namespaces === informer || this.configMaps === informer) forget();
      this.retries.schedule(key, err, restart);
    };
    informer.on('error', failed);
    informer.on('connect', () => this.retries.succeeded(key));
    informer.start().catch(failed);
  }

  /** One reconcile per namespace at a time; an event during it runs it once more afterwards. */
  private enqueue(ns: string): void {
    if (this.closed) return;
    if (this.running.has(ns)) {
      this.again.add(ns);
      return;
    }
    this.running.add(ns);
    void this.reconcile(ns).finally(() => {
      this.running.delete(ns);
      if (this.again.delete(ns)) this.enqueue(ns);
    });
  }

  private async reconcile(namespace: string): Promise<void> {
    const phase = this.namespaces?.get(namespace)?.status?.phase;
    try {
      const existing = await this.core.readNamespacedConfigMap({ namespace, name: rootCertConfigMapName }).catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      });
      const plan = buildRootCertAction({ name: namespace, phase }, existing, this.rootsPem);
      if (plan.action === 'create') await this.core.createNamespacedConfigMap({ namespace, body: plan.configMap });
      if (plan.action === 'update') await this.core.replaceNamespacedConfigMap({ namespace, name: rootCertConfigMapName, body: plan.configMap });
      this.retries.succeeded(namespace);
      if (plan.action === 'create' || plan.action === 'update') this.log.info({ namespace, configMap: rootCertConfigMapName, action: plan.action }, 'root certificate published');
    } catch (err) {
      // A namespace being deleted refuses new objects (403 from NamespaceLifecycle admission); a
      // deleted one answers 404. Any other refusal (RBAC) is retried and logged.
      const known = this.namespaces?.get(namespace);
      if (statusOf(err) === 403 && known?.status?.phase === 'Terminating') return;
      if (statusOf(err) === 404 && this.namespaces && !known) return;
      this.retries.schedule(namespace, err, () => this.enqueue(namespace));
    }
  }
}
