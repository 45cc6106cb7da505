// WaypointReconciler: for each Gateway of class istio-waypoint, the waypoint's ServiceAccount,
// Deployment and Service (`<gateway>-istio-waypoint`, Istio's naming) from the template
// manifests/waypoint/waypoint-template.yaml, written by server-side apply and owned by the Gateway
// (so the garbage collector removes them with it). One list/watch of Gateways (v1), restarted with
// backoff when it fails; a failed apply is retried with the same backoff.
import { CustomObjectsApi, KubernetesObjectApi, ListWatch, PatchStrategy, Watch, loadAllYaml, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { waypointGatewayClass } from '../shared/config/gateway-decoders.js';
import type { Logger } from '../shared/log.js';

export interface WaypointGatewayRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

const gatewayApiVersion = 'gateway.networking.k8s.io/v1';
export const waypointFieldManager = 'ambit-controlplane';

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
  }
  return { objects };
}

type RawGateway = KubernetesObject & { spec?: { gatewayClassName?: unknown } };

export interface WaypointReconcilerOptions {
  readonly kubeConfig: KubeConfig;
  /** The template's text (manifests/waypoint/waypoint-template.yaml). */
  readonly template: string;
  readonly logger: Logger;
  /** Retry delay after a failed watch or apply: first and cap (default 500 ms doubling to 10 s). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

export class WaypointReconciler {
  private readonly opts: WaypointReconcilerOptions;
  private readonly log: Logger;
  private readonly api: KubernetesObjectApi;
  private informer?: ListWatch<RawGateway>;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private closed = false;

  constructor(opts: WaypointReconcilerOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.api = KubernetesObjectApi.makeApiClient(opts.kubeConfig);
  }

  start(): void {
    if (this.closed || this.informer) return;
    const customs = this.opts.kubeConfig.makeApiClient(CustomObjectsApi);
    const list = async (): Promise<KubernetesListObject<RawGateway>> =>
      (await customs.listClusterCustomObject({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' })) as KubernetesListObject<RawGateway>;
    const informer = new ListWatch<RawGateway>('/apis/gateway.networking.k8s.io/v1/gateways', new Watch(this.opts.kubeConfig), list, false);
    informer.on('add', (g) => this.reconcile(g));
    informer.on('update', (g) => this.reconcile(g));
    // After a dead API server the ListWatch stops for good: a new one resumes with a fresh list.
    const restart = (err: unknown): void => {
      void informer.stop();
      if (this.informer === informer) this.informer = undefined;
      this.retry('watch', err, () => this.start());
    };
    informer.on('error', restart);
    informer.on('connect', () => this.failures.delete('watch'));
    this.informer = informer;
    informer.start().catch(restart);
  }

  close(): void {
    this.closed = true;
    void this.informer?.stop();
    this.informer = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private reconcile(g: RawGateway): void {
    if (this.closed || g.spec?.gatewayClassName !== waypointGatewayClass) return;
    const { namespace, name, uid } = g.metadata ?? {};
    if (!namespace || !name || !uid) return;
    const key = `${namespace}/${name}`;
    const built = buildWaypointObjects({ namespace, name, uid }, this.opts.template);
    if ('error' in built) {
      this.log.warn({ gateway: key, reason: built.error }, 'waypoint not reconciled');
      return;
    }
    void (async () => {
      try {
        for (const o of built.objects) await this.api.patch(o, undefined, undefined, waypointFieldManager, true, PatchStrategy.ServerSideApply);
        this.failures.delete(key);
        this.log.info({ gateway: key, objects: built.objects.map((o) => `${o.kind}/${o.metadata!.name}`) }, 'waypoint reconciled');
      } catch (err) {
        this.retry(key, err, () => this.reconcileLatest(key, g));
      }
    })();
  }

  /** Retries with the informer's current copy of the Gateway (it may have changed or gone). */
  private reconcileLatest(key: string, fallback: RawGateway): void {
    const [namespace, name] = key.split('/');
    const current = this.informer?.get(name!, namespace) ?? (this.informer ? undefined : fallback);
    if (current) this.reconcile(current);
  }

  private retry(key: string, err: unknown, fn: () => void): void {
    if (this.closed || this.timers.has(key)) return;
    const { initial, max } = this.opts.backoffMs ?? { initial: 500, max: 10_000 };
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const ms = Math.min(max, initial * 2 ** n);
    const e = err as { code?: unknown; message?: unknown };
    this.log.warn({ target: key, code: e?.code, err: String(e?.message ?? err).split('\n')[0]!.slice(0, 300), retryMs: ms }, 'waypoint reconcile failed; retrying');
    const t = setTimeout(() => {
      this.timers.delete(key);
      fn();
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }
}
