// KubeSource: the control plane's Kubernetes source. One list/watch (client-node ListWatch) per
// kind: v1 Namespace, Pod, Service, ServiceAccount, EndpointSlice (discovery.k8s.io v1, else v1beta1:
// v1 arrived in Kubernetes 1.21), and the Istio / Gateway API custom kinds when their CRDs are
// installed (v1, else v1beta1; an absent CRD is a warning, probed again later).
// Every object is its own ResourceSet source `kube:<Kind>/<namespace>/<name>` (cluster-scoped:
// `kube:<Kind>/<name>`), so last-good and duplicate rules apply per object; a deletion removes
// the source. Events are batched into one ConfigStore.update() at most every ~50 ms. A list/watch
// that fails (an error, a dead API server) is restarted with backoff; the restarted ListWatch
// resumes its watch from the last resourceVersion (events while disconnected are replayed) or, on
// 410 Gone, re-lists and reports objects missing from the new list as deleted.
import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { formatConfigError } from '../shared/config/config-error.js';
import type { ConfigStore, ModelDelta } from '../shared/config/config-store.js';
import type { Logger } from '../shared/log.js';

export interface KubeSourceOptions {
  readonly kubeConfig: KubeConfig;
  readonly store: ConfigStore;
  readonly logger: Logger;
  /** Batching window for events (default 50 ms). */
  readonly batchMs?: number;
  /** How often an absent CRD kind is probed again (default 30 s). */
  readonly crdRetryMs?: number;
  /** Restart backoff of a failed list/watch: first delay and cap (default 100 ms doubling to 5 s). */
  readonly backoffMs?: { readonly initial: number; readonly max: number };
}

interface KindSpec {
  readonly kind: string;
  readonly group: string; // '' for core
  readonly versions: readonly string[]; // preferred first
  readonly plural: string;
  readonly namespaced: boolean;
}

const coreKinds: readonly KindSpec[] = [
  { kind: 'Namespace', group: '', versions: ['v1'], plural: 'namespaces', namespaced: false },
  { kind: 'ServiceAccount', group: '', versions: ['v1'], plural: 'serviceaccounts', namespaced: true },
  { kind: 'Pod', group: '', versions: ['v1'], plural: 'pods', namespaced: true },
  { kind: 'Service', group: '', versions: ['v1'], plural: 'services', namespaced: true },
];

const istioVersions = ['v1', 'v1beta1'] as const;
// Group kinds, found by probing their versions. EndpointSlice is built in, not a CRD, but its
// version depends on the server (1.20 serves only v1beta1), so it is probed the same way.
const customKinds: readonly KindSpec[] = [
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', versions: ['v1', 'v1beta1'], plural: 'endpointslices', namespaced: true },
  { kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: istioVersions, plural: 'authorizationpolicies', namespaced: true },
  { kind: 'PeerAuthentication', group: 'security.istio.io', versions: istioVersions, plural: 'peerauthentications', namespaced: true },
  { kind: 'RequestAuthentication', group: 'security.istio.io', versions: istioVersions, plural: 'requestauthentications', namespaced: true },
  { kind: 'VirtualService', group: 'networking.istio.io', versions: istioVersions, plural: 'virtualservices', namespaced: true },
  { kind: 'DestinationRule', group: 'networking.istio.io', versions: istioVersions, plural: 'destinationrules', namespaced: true },
  { kind: 'Gateway', group: 'gateway.networking.k8s.io', versions: istioVersions, plural: 'gateways', namespaced: true },
  { kind: 'HTTPRoute', group: 'gateway.networking.k8s.io', versions: istioVersions, plural: 'httproutes', namespaced: true },
];

function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.code === 'number') return e.code;
  return undefined;
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0]!.slice(0, 300);
  return String(err).slice(0, 300);
}

type Raw = KubernetesObject & Record<string, unknown>;

/** One kind's list/watch and its restart state. */
class KindWatcher {
  informer?: ListWatch<Raw>;
  version?: string;
  state: 'idle' | 'probing' | 'absent' | 'running' | 'closed' = 'idle';
  synced = false;
  private timer?: NodeJS.Timeout;
  private backoff: number;
  private failedDuringStart = false;
  private warnedAbsent = false;
  private readonly syncWaiters: (() => void)[] = [];

  readonly spec: KindSpec;
  private readonly source: KubeSource;

  constructor(spec: KindSpec, source: KubeSource) {
    this.spec = spec;
    this.source = source;
    this.backoff = source.backoff.initial;
  }

  /** A method, so TypeScript does not narrow `state` across awaits. */
  closed(): boolean {
    return this.state === 'closed';
  }

  get log(): Logger {
    return this.source.logger;
  }

  waitSynced(): Promise<void> {
    return this.synced || this.state === 'closed' ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  async begin(): Promise<void> {
    if (this.spec.group === '') {
      this.version = this.spec.versions[0]!;
      await this.run();
    } else {
      await this.probe();
    }
  }

  close(): void {
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    void this.informer?.stop();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private schedule(ms: number, fn: () => Promise<void>): void {
    if (this.state === 'closed' || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state !== 'closed') void fn();
    }, ms);
    this.timer.unref();
  }

  private nextBackoff(): number {
    const ms = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.source.backoff.max);
    return ms;
  }

  /** Custom kinds: find a served version (discovery by a one-item list), else retry later. */
  private async probe(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'probing';
    const customs = this.source.kubeConfig.makeApiClient(CustomObjectsApi);
    let notFound = 0;
    for (const version of this.spec.versions) {
      try {
        await customs.listClusterCustomObject({ group: this.spec.group, version, plural: this.spec.plural, limit: 1 });
        this.version = version;
        if (this.warnedAbsent) this.log.info({ kind: this.spec.kind, version }, 'kube kind now served; watching it');
        if (this.state !== 'probing') return;
        await this.run();
        return;
      } catch (err) {
        if (statusCode(err) === 404) {
          notFound++;
          continue;
        }
        if (this.closed()) return;
        const ms = this.nextBackoff();
        this.log.warn({ kind: this.spec.kind, err: errorText(err), retryMs: ms }, 'kube discovery failed; retrying');
        this.schedule(ms, () => this.probe());
        return;
      }
    }
    if (notFound === this.spec.versions.length && !this.closed()) {
      this.state = 'absent';
      const ms = this.source.crdRetryMs;
      // Warned once; the periodic re-probes log at debug.
      const fields = { kind: this.spec.kind, group: this.spec.group, versions: this.spec.versions, retryMs: ms };
      if (this.warnedAbsent) this.log.debug(fields, 'kube kind not installed (no CRD serves it); retrying later');
      else this.log.warn(fields, 'kube kind not installed (no CRD serves it); retrying later');
      this.warnedAbsent = true;
      // An absent kind counts as synced: start() must not wait for a CRD that may never come.
      this.markSynced();
      this.schedule(ms, () => this.probe());
    }
  }

  private path(): string {
    const { group, plural } = this.spec;
    return group === '' ? `/api/${this.version}/${plural}` : `/apis/${group}/${this.version}/${plural}`;
  }

  private apiVersion(): string {
    return this.spec.group === '' ? this.version! : `${this.spec.group}/${this.version}`;
  }

  private listFn(): () => Promise<KubernetesListObject<Raw>> {
    const kc = this.source.kubeConfig;
    const { kind, group, plural } = this.spec;
    const normalize = (list: { metadata?: unknown; items?: unknown[] }, typed: boolean): KubernetesListObject<Raw> => {
      // Typed lists come back as client-node model objects (Dates, no kind/apiVersion on items):
      // back to their wire JSON, the form watch events have.
      const items = (list.items ?? []).map((i) => (typed ? (JSON.parse(JSON.stringify(i)) as Raw) : (i as Raw)));
      return { apiVersion: this.apiVersion(), kind: `${kind}List`, metadata: list.metadata as KubernetesListObject<Raw>['metadata'], items };
    };
    if (group !== '') {
      const customs = kc.makeApiClient(CustomObjectsApi);
      return async () => normalize((await customs.listClusterCustomObject({ group, version: this.version!, plural })) as { items?: unknown[] }, false);
    }
    const core = kc.makeApiClient(CoreV1Api);
    const lists: Record<string, () => Promise<{ metadata?: unknown; items?: unknown[] }>> = {
      namespaces: () => core.listNamespace(),
      serviceaccounts: () => core.listServiceAccountForAllNamespaces(),
      pods: () => core.listPodForAllNamespaces(),
      services: () => core.listServiceForAllNamespaces(),
    };
    const fn = lists[plural]!;
    return async () => normalize(await fn(), true);
  }

  private async run(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'running';
    if (!this.informer) {
      const informer = new ListWatch<Raw>(this.path(), new Watch(this.source.kubeConfig), this.listFn(), false);
      informer.on('add', (obj) => this.source.enqueue(this, obj, false));
      informer.on('update', (obj) => this.source.enqueue(this, obj, false));
      informer.on('delete', (obj) => this.source.enqueue(this, obj, true));
      informer.on('error', (err) => this.onError(err));
      this.informer = informer;
    }
    this.failedDuringStart = false;
    await this.informer.start();
    if (this.closed()) return;
    if (!this.failedDuringStart) {
      // Listed (or resumed) and watching.
      this.backoff = this.source.backoff.initial;
      this.markSynced();
      this.source.scheduleFlush();
    }
  }

  private onError(err: unknown): void {
    this.failedDuringStart = true;
    if (this.state === 'closed') return;
    const code = statusCode(err);
    if (this.spec.group !== '' && code === 404) {
      // The CRD went away (or no longer serves this version): back to probing.
      void this.informer?.stop();
      this.informer = undefined;
      this.state = 'absent';
      this.log.warn({ kind: this.spec.kind, version: this.version }, 'kube kind no longer served; probing again later');
      this.schedule(this.source.crdRetryMs, () => this.probe());
      return;
    }
    const ms = this.nextBackoff();
    this.log.warn({ kind: this.spec.kind, err: errorText(err), code, retryMs: ms }, 'kube list/watch failed; restarting');
    this.schedule(ms, () => this.run());
  }

  sourceName(obj: KubernetesObject): string | undefined {
    const name = obj.metadata?.name;
    if (typeof name !== 'string') return undefined;
    return this.spec.namespaced ? `kube:${this.spec.kind}/${obj.metadata?.namespace ?? ''}/${name}` : `kube:${this.spec.kind}/${name}`;
  }

  document(obj: Raw): Raw {
    // Items of a list carry no kind/apiVersion; name them as the version we watch.
    return { ...obj, apiVersion: this.apiVersion(), kind: this.spec.kind };
  }
}

export class KubeSource {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  readonly crdRetryMs: number;
  readonly backoff: { readonly initial: number; readonly max: number };
  private readonly store: ConfigStore;
  private readonly batchMs: number;
  private readonly watchers: KindWatcher[];
  /** source name → document to apply, or null to remove. */
  private pending = new Map<string, Raw | null>();
  private flushTimer?: NodeJS.Timeout;
  private lastFlush = 0;
  private closed = false;

  constructor(opts: KubeSourceOptions) {
    this.kubeConfig = opts.kubeConfig;
    this.store = opts.store;
    this.logger = opts.logger;
    this.batchMs = opts.batchMs ?? 50;
    this.crdRetryMs = opts.crdRetryMs ?? 30_000;
    this.backoff = opts.backoffMs ?? { initial: 100, max: 5_000 };
    this.watchers = [...coreKinds, ...customKinds].map((k) => new KindWatcher(k, this));
  }

  /**
   * Starts every list/watch and resolves once each kind has listed once (a CRD kind that is not
   * installed counts as listed) and the result is in the store. Keeps retrying while the API
   * server is unreachable.
   */
  async start(): Promise<ModelDelta | undefined> {
    for (const w of this.watchers) void w.begin();
    await Promise.all(this.watchers.map((w) => w.waitSynced()));
    if (this.closed) return undefined;
    const delta = this.flush();
    this.logger.info({ sources: this.store.resources.sourceNames().filter((s) => s.startsWith('kube:')).length, version: this.store.version,
      kinds: Object.fromEntries(this.watchers.map((w) => [w.spec.kind, w.state === 'running' ? w.version : w.state])) }, 'kube source synced');
    return delta;
  }

  close(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const w of this.watchers) w.close();
  }

  /** @internal called by the watchers. */
  enqueue(w: KindWatcher, obj: Raw, deleted: boolean): void {
    if (this.closed) return;
    const source = w.sourceName(obj);
    if (!source) return;
    this.pending.set(source, deleted ? null : w.document(obj));
    this.scheduleFlush();
  }

  /** @internal at most one store update per batch window. */
  scheduleFlush(): void {
    if (this.closed || this.flushTimer || this.pending.size === 0) return;
    const wait = Math.max(0, this.lastFlush + this.batchMs - Date.now());
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, Math.max(wait, Math.min(this.batchMs, 10)));
    this.flushTimer.unref();
  }

  private flush(): ModelDelta | undefined {
    if (this.closed || this.pending.size === 0) return undefined;
    const batch = this.pending;
    this.pending = new Map();
    this.lastFlush = Date.now();
    let applied = 0;
    let removed = 0;
    let delta: ModelDelta | undefined;
    try {
      delta = this.store.update((set) => {
        for (const [source, doc] of batch) {
          if (doc === null) {
            if (set.removeSource(source)) removed++;
          } else {
            set.applyDocuments(source, [{ value: doc, index: 0 }]);
            applied++;
          }
        }
      });
    } catch (err) {
      this.logger.error({ err: errorText(err) }, 'kube source update failed');
      return undefined;
    }
    for (const e of this.store.errors) if (batch.has(e.source)) this.logger.warn({ error: formatConfigError(e) }, 'config error');
    this.logger.debug({ applied, removed, version: this.store.version }, 'kube changes applied');
    return delta;
  }
}
