// WaypointReconciler: for each Gateway of class istio-waypoint, the waypoint's ServiceAccount,
// Deployment and Service (`<gateway>-istio-waypoint`, Istio's naming) from the template
// manifests/waypoint/waypoint-template.yaml, written by server-side apply, labelled as ours and
// owned by the Gateway. One list/watch of Gateways (v1), restarted with backoff when it fails; a
// failed apply is retried with the same backoff.
// Removal does not rely on the garbage collector (kube-controller-manager may not run): after
// every (re)list, a Gateway deletion, or a Gateway leaving the class, a sweep lists the template's
// kinds carrying our managed-by label and deletes those whose controlling owner is a Gateway that
// is no longer a live waypoint Gateway — never an object without our label and ownership, and
// with uid + resourceVersion preconditions so a concurrent re-apply is not lost.
import { CustomObjectsApi, KubernetesObjectApi, ListWatch, PatchStrategy, Watch, loadAllYaml, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { waypointGatewayClass } from '../shared/config/gateway-decoders.js';
import type { Logger } from '../shared/log.js';
import { KeyedRetry, type Backoff } from './keyed-retry.js';

export interface WaypointGatewayRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

const gatewayApiVersion = 'gateway.networking.k8s.io/v1';
export const waypointFieldManager = 'ambit-controlplane';
/** Set on every object the reconciler writes; the sweep only ever looks at objects with it. */
export const waypointManagedBy = { 'app.kubernetes.io/managed-by': 'ambit-controlplane' } as const;
const managedBySelector = Object.entries(waypointManagedBy).map(([k, v]) => `${k}=${v}`).join(',');

/** The template's objects for one Gateway, owned by it, or why they cannot be built. */
export function buildWaypointObjects(gateway: WaypointGatewayRef, template: string): { objects: KubernetesObject[] } | { error: string } {
  const vars: Record<string, string> = { GATEWAY: gateway.name, NAMESPACE: gateway.namespace };
  let unknown: string | undefined;
  const text = template.replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => vars[name] ?? ((unknown ??= m), m));
  if (unknown !== undefined) return { error: `waypoint template uses ${unknown}; only \${GATEWAY} and \${NAMESPACE} are filled` };
  let objects: KubernetesObject[];
  try {
    objects = (loadAllYaml(text) as (KubernetesObject | null)[]).filter((o): o is KubernetesObject => o !== null && typeof o === 'object');
  } catch (err) {
    return { error: `waypoint template is not valid YAML: ${(err as Error).message.split('\n')[0]}` };
  }
  if (objects.length === 0) return { error: 'waypoint template holds no objects' };
  const owner = { apiVersion: gatewayApiVersion, kind: 'Gateway', name: gateway.name, uid: gateway.uid, controller: true, blockOwnerDeletion: false };
  for (const o of objects) {
    if (!o.kind || !o.metadata?.name) return { error: 'every object of the waypoint template needs a kind and metadata.name' };
    if (o.metadata.namespace !== gateway.namespace) return { error: `${o.kind} ${o.metadata.name} must be in the Gateway's namespace ${gateway.namespace}` };
    o.metadata.ownerReferences = [owner];
    o.metadata.labels = { ...o.metadata.labels, ...waypointManagedBy };
  }
  return { objects };
}

/**
 * Pure: which of these objects to delete — those with our managed-by label whose controlling
 * owner is a Gateway (any version of gateway.networking.k8s.io) not among the live waypoint
 * Gateways' uids.
 */
export function buildOrphanDeletions(objects: readonly KubernetesObject[], liveGatewayUids: ReadonlySet<string>): KubernetesObject[] {
  return objects.filter((o) => {
    const labels = o.metadata?.labels ?? {};
    if (!Object.entries(waypointManagedBy).every(([k, v]) => labels[k] === v)) return false;
    const owner = o.metadata?.ownerReferences?.find((r) => r.controller === true);
    if (!owner || owner.kind !== 'Gateway' || !owner.apiVersion.startsWith('gateway.networking.k8s.io/')) return false;
    return !liveGatewayUids.has(owner.uid);
  });
}

/** The distinct apiVersion/kind pairs of the template (what a sweep lists). */
function templateKinds(template: string): { apiVersion: string; kind: string }[] {
  const built = buildWaypointObjects({ namespace: 'x', name: 'x', uid: 'x' }, template);
  if ('error' in built) return [];
  const seen = new Map<string, { apiVersion: string; kind: string }>();
  for (const o of built.objects) if (o.apiVersion && o.kind) seen.set(`${o.apiVersion}/${o.kind}`, { apiVersion: o.apiVersion, kind: o.kind });
  return [...seen.values()];
}

type RawGateway = KubernetesObject & { spec?: { gatewayClassName?: unknown } };

export interface WaypointReconcilerOptions {
  readonly kubeConfig: KubeConfig;
  /** The template's text (manifests/waypoint/waypoint-template.yaml). */
  readonly template: string;
  readonly logger: Logger;
  /** Retry delay after a failed watch or apply: first and cap (default 500 ms doubling to 10 s). */
  readonly backoffMs?: Backoff;
}

export class WaypointReconciler {
  private readonly opts: WaypointReconcilerOptions;
  private readonly log: Logger;
  private readonly api: KubernetesObjectApi;
  private informer?: ListWatch<RawGateway>;
  private readonly retries: KeyedRetry;
  /** Uids of the Gateways seen in class istio-waypoint: leaving the class or going triggers a sweep. */
  private readonly waypointUids = new Set<string>();
  private sweepTimer?: NodeJS.Timeout;
  private sweeping = false;
  private sweepAgain = false;
  private closed = false;

  constructor(opts: WaypointReconcilerOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.retries = new KeyedRetry(opts.logger, 'waypoint reconcile failed; retrying', opts.backoffMs);
    this.api = KubernetesObjectApi.makeApiClient(opts.kubeConfig);
  }

  start(): void {
    if (this.closed || this.informer) return;
    const customs = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = async (): Promise<KubernetesListObject<RawGateway>> =>
      (await customs.listClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' })) as KubernetesListObject<RawGateway>;
    const informer = new ListWatch<RawGateway>('/apis/gateway.networking.k8s.io/v1/gateways', new Watch(this.opts.kubeConfig), list, false);
    informer.on('add', (g) => this.reconcile(g));
    informer.on('update', (g) => {
      if (g.spec?.gatewayClassName === waypointGatewayClass) this.reconcile(g);
      else if (this.waypointUids.delete(g.metadata?.uid ?? '')) this.scheduleSweep();
    });
    informer.on('delete', (g) => {
      if (this.waypointUids.delete(g.metadata?.uid ?? '')) this.scheduleSweep();
    });
    // After a dead API server the ListWatch stops for good: a new one resumes with a fresh list.
    const restart = (err: unknown): void => {
      void informer.stop();
      if (this.informer === informer) this.informer = undefined;
      this.retries.schedule('watch', err, () => this.start());
    };
    informer.on('error', restart);
    informer.on('connect', () => this.retries.succeeded('watch'));
    this.informer = informer;
    // start() resolves once the list is in the cache: objects of Gateways deleted meanwhile go now.
    informer.start().then(() => this.scheduleSweep(), restart);
  }

  close(): void {
    this.closed = true;
    void this.informer?.stop();
    this.informer = undefined;
    this.retries.close();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
  }

  /** Coalesces sweeps: one at a time, one more if asked for while it runs. */
  private scheduleSweep(): void {
    if (this.closed) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    if (this.sweepTimer) return;
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = undefined;
      this.sweeping = true;
      void this.sweep().finally(() => {
        this.sweeping = false;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.scheduleSweep();
        }
      });
    }, 50);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    const informer = this.informer;
    if (this.closed || !informer) return;
    try {
      const candidates: KubernetesObject[] = [];
      for (const { apiVersion, kind } of templateKinds(this.opts.template)) {
        const list = await this.api.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, managedBySelector);
        candidates.push(...list.items.map((o) => ({ ...o, apiVersion, kind })));
      }
      // The live set is read after the lists: a Gateway created meanwhile is never swept.
      const live = new Set(informer.list().filter((g) => g.spec?.gatewayClassName === waypointGatewayClass).map((g) => g.metadata?.uid ?? ''));
      for (const o of buildOrphanDeletions(candidates, live)) {
        const preconditions = { uid: o.metadata!.uid!, resourceVersion: o.metadata!.resourceVersion! };
        const deleted = await this.api.delete(o, undefined, undefined, undefined, undefined, 'Background', { preconditions }).then(() => true, (err: unknown) => {
          // Gone already, or changed since the list (409): the next sweep decides again.
          const c = (err as { code?: unknown }).code;
          if (c === 404) return false;
          if (c === 409) return !(this.sweepAgain = true);
          throw err;
        });
        if (deleted) this.log.info({ object: `${o.kind}/${o.metadata!.namespace}/${o.metadata!.name}`, gateway: o.metadata!.ownerReferences!.find((r) => r.controller)!.name }, 'waypoint object removed: its Gateway is gone or no longer istio-waypoint');
      }
      this.retries.succeeded('sweep');
    } catch (err) {
      this.retries.schedule('sweep', err, () => this.scheduleSweep());
    }
  }

  private reconcile(g: RawGateway): void {
    if (this.closed || g.spec?.gatewayClassName !== waypointGatewayClass) return;
    const { namespace, name, uid } = g.metadata ?? {};
    if (!namespace || !name || !uid) return;
    const key = `${namespace}/${name}`;
    this.waypointUids.add(uid);
    const built = buildWaypointObjects({ namespace, name, uid }, this.opts.template);
    if ('error' in built) {
      this.log.warn({ gateway: key, reason: built.error }, 'waypoint not reconciled');
      return;
    }
    void (async () => {
      try {
        for (const o of built.objects) await this.api.patch(o, undefined, undefined, waypointFieldManager, true, PatchStrategy.ServerSideApply);
        this.retries.succeeded(key);
        this.log.info({ gateway: key, objects: built.objects.map((o) => `${o.kind}/${o.metadata!.name}`) }, 'waypoint reconciled');
        // The Gateway went or left the class while this apply ran (a sweep may have missed these).
        const now = this.informer?.get(name, namespace);
        if (now?.metadata?.uid !== uid || now.spec?.gatewayClassName !== waypointGatewayClass) this.scheduleSweep();
      } catch (err) {
        this.retries.schedule(key, err, () => this.reconcileLatest(key, g));
      }
    })();
  }

  /** Retries with the informer's current copy of the Gateway (it may have changed or gone). */
  private reconcileLatest(key: string, fallback: RawGateway): void {
    const [namespace, name] = key.split('/');
    const current = this.informer?.get(name!, namespace) ?? (this.informer ? undefined : fallback);
    if (current) this.reconcile(current);
  }
}
