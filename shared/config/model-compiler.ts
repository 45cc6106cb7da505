// ModelCompiler: compileModel() kept up to date by resource changes instead of rerun. It keeps
// the compiled objects and the relations between them (which services and policies select which
// pods; the pods of each namespace, service account and label), so a change recomputes only what
// it can reach: a pod edit its own workload, a service or policy edit the pods it selected or now
// selects, a namespace edit its pods, a Gateway the pods of the accounts whose waypoint changed,
// a PeerAuthentication the pods of its namespace (the mesh's: all), an EndpointSlice the endpoints
// of its service (EndpointSliceCompiler). Unchanged objects keep their
// identity. compileModel() is the specification: model-compiler.test.ts checks both agree.
import { AuthorizationCompiler, type PodAuthorization } from './authorization-compiler.js';
import { ChangeLog, keepIfSame } from './change-log.js';
import type { ConfigError } from './config-error.js';
import { defaultRootNamespace } from './compile-authorization.js';
import { EndpointSliceCompiler } from './endpoint-slice-compiler.js';
import type { GatewayResource } from './gateway-resources.js';
import { buildService, buildWaypoints, buildWorkload, firstLabelKey, isEnrolled, isRunning, labelKey, podSelector, resolvePorts, sameWaypoint, selectsLabels, selectsNoPodWarning, serviceHostname, type ModelOptions } from './model-builders.js';
import { serviceKey, TunnelProtocol, type MeshModel, type ModelChanges, type PortMapping, type Service, type WaypointBinding, type Workload } from './model.js';
import type { ResourceChange } from './resource-set.js';
import type { EndpointSliceResource, NamespaceResource, PodResource, ServiceResource } from './resources.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource } from './security-resources.js';
import { SetIndex } from './set-index.js';
import { compareCodeUnits, withChanges } from './sorted-list.js';

type Labels = Readonly<Record<string, string>>;

interface PodState {
  readonly resource: PodResource;
  /** `namespace/name` of the services whose selector matches the pod (whatever its phase). */
  readonly services: readonly string[];
  readonly authorization: PodAuthorization;
  readonly workload: Workload | undefined;
}

interface ServiceState {
  resource: ServiceResource;
  service: Service | undefined;
  selector: Labels | undefined;
  /** Pods the selector matches, kept as those pods are recomputed. */
  readonly selected: Set<string>;
}

const emptyModel: MeshModel = { workloads: [], services: [], authorizations: [] };

/** `Kind/namespace/name` → `namespace/name`. */
function objectKey(resourceKey: string): string {
  return resourceKey.slice(resourceKey.indexOf('/') + 1);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameMembership(a: Readonly<Record<string, readonly PortMapping[]>>, b: Readonly<Record<string, readonly PortMapping[]>>): boolean {
  const ka = Object.keys(a);
  if (!sameList(ka, Object.keys(b))) return false;
  for (const k of ka) {
    const pa = a[k]!;
    const pb = b[k]!;
    if (pa.length !== pb.length) return false;
    for (let i = 0; i < pa.length; i++) if (pa[i]!.servicePort !== pb[i]!.servicePort || pa[i]!.targetPort !== pb[i]!.targetPort) return false;
  }
  return true;
}

export class ModelCompiler {
  private readonly opts: ModelOptions;
  private readonly namespaces = new Map<string, NamespaceResource>();
  private readonly pods = new Map<string, PodState>();
  private readonly podsByLabel = new SetIndex();
  private readonly podsByNamespace = new SetIndex();
  private readonly podsByAccount = new SetIndex();
  private readonly services = new Map<string, ServiceState>();
  /** Selector services by `namespace, first selector label`. */
  private readonly servicesByLabel = new SetIndex();
  private readonly gateways = new Map<string, GatewayResource>();
  private waypoints = new Map<string, WaypointBinding>();
  private gatewayWarnings: ConfigError[] = [];
  private readonly authz: AuthorizationCompiler;
  private readonly slices: EndpointSliceCompiler;
  private currentModel: MeshModel = emptyModel;
  private currentWarnings?: ConfigError[];

  // Within apply(): pods changed but not recomputed yet, and what changed.
  private newPods = new Map<string, PodResource | undefined>();
  private readonly workloadChanges = new ChangeLog<Workload>();
  private readonly serviceChanges = new ChangeLog<Service>();

  constructor(opts: ModelOptions) {
    this.opts = opts;
    this.authz = new AuthorizationCompiler(opts.rootNamespace ?? defaultRootNamespace);
    this.slices = new EndpointSliceCompiler(opts);
  }

  get model(): MeshModel {
    return this.currentModel;
  }

  /** compileModel()'s warnings (policies, gateways, services, ports; services by key). */
  get warnings(): readonly ConfigError[] {
    this.currentWarnings ??= [
      ...this.authz.policyWarnings(),
      ...this.gatewayWarnings,
      ...[...this.services.entries()].sort((a, b) => compareCodeUnits(a[0], b[0])).flatMap(([, s]) => (s.selector && s.selected.size === 0 ? [selectsNoPodWarning(s.resource)] : [])),
      ...this.slices.warnings(),
      ...this.authz.portWarnings(),
    ];
    return this.currentWarnings;
  }

  /** Applies changes of the resolved resources; returns what changed in the model. */
  apply(changes: readonly ResourceChange[]): ModelChanges {
    const dirty = new Set<string>();
    const changedServices: ServiceState[] = [];
    let gatewaysChanged = false;
    for (const c of changes) {
      const kind = (c.after ?? c.before)?.kind ?? c.key.slice(0, c.key.indexOf('/'));
      if (kind === 'Pod') this.podChanged(objectKey(c.key), c.after as PodResource | undefined, dirty);
      else if (kind === 'Namespace') this.namespaceChanged(objectKey(c.key).slice(1), c.after as NamespaceResource | undefined, dirty);
      else if (kind === 'Service') this.serviceChanged(objectKey(c.key), c.after as ServiceResource | undefined, dirty, changedServices);
      else if (kind === 'AuthorizationPolicy') this.authz.policyChanged(objectKey(c.key), c.after as AuthorizationPolicyResource | undefined, dirty);
      else if (kind === 'PeerAuthentication') this.authz.peerAuthenticationChanged(c.key, c.after as PeerAuthenticationResource | undefined);
      else if (kind === 'EndpointSlice') this.slices.sliceChanged(objectKey(c.key), c.after as EndpointSliceResource | undefined);
      else if (kind === 'Gateway') {
        if (c.after) this.gateways.set(c.key, c.after as GatewayResource);
        else this.gateways.delete(c.key);
        gatewaysChanged = true;
      }
      // Other kinds (VirtualService, HTTPRoute...) are the waypoint's, not part of this model.
    }
    if (gatewaysChanged) this.rebuildWaypoints(dirty);
    // Now that the pod indexes are current: the pods changed services and policies select now
    // (nothing to look for when every pod is recomputed anyway, as on a first load).
    const everyPod = dirty.size === this.pods.size + this.newPods.size;
    const select = (namespace: string, selector: Labels): void => {
      if (!everyPod) this.matchingPods(namespace, selector, dirty);
    };
    for (const s of changedServices) if (s.selector) select(s.resource.meta.namespace, s.selector);
    this.authz.reachedPods(select, (namespace) => {
      if (namespace !== '*') for (const key of this.podsByNamespace.get(namespace)) dirty.add(key);
      else for (const key of [...this.pods.keys(), ...this.newPods.keys()]) dirty.add(key);
    });
    // Services without a selector: their slices' endpoints, now that services and pods are current.
    this.slices.recompute((key) => {
      const s = this.services.get(key);
      return s?.service && !s.selector ? { resource: s.resource, service: s.service } : undefined;
    }, (key) => this.currentPod(key) !== undefined, dirty, this.workloadChanges);
    for (const key of dirty) this.recomputePod(key);
    return this.publish();
  }

  private currentPod(key: string): PodResource | undefined {
    return this.newPods.has(key) ? this.newPods.get(key) : this.pods.get(key)?.resource;
  }

  private podChanged(key: string, after: PodResource | undefined, dirty: Set<string>): void {
    const before = this.currentPod(key);
    if (!before !== !after) this.slices.podExistenceChanged(key);
    if (before) this.indexPod(before, key, 'remove');
    if (after) this.indexPod(after, key, 'add');
    this.newPods.set(key, after);
    dirty.add(key);
  }

  private indexPod(pod: PodResource, key: string, op: 'add' | 'remove'): void {
    const ns = pod.meta.namespace;
    for (const k in pod.meta.labels) this.podsByLabel[op](labelKey(ns, k, pod.meta.labels[k]!), key);
    this.podsByNamespace[op](ns, key);
    this.podsByAccount[op](`${ns}/${pod.spec.serviceAccountName}`, key);
  }

  private namespaceChanged(name: string, after: NamespaceResource | undefined, dirty: Set<string>): void {
    if (after) this.namespaces.set(name, after);
    else this.namespaces.delete(name);
    for (const key of this.podsByNamespace.get(name)) dirty.add(key);
  }

  private serviceChanged(key: string, after: ServiceResource | undefined, dirty: Set<string>, changed: ServiceState[]): void {
    this.slices.serviceChanged(key);
    let state = this.services.get(key);
    if (state) {
      if (state.selector) this.servicesByLabel.remove(firstLabelKey(state.resource.meta.namespace, state.selector), key);
      for (const pod of state.selected) dirty.add(pod);
    }
    if (!after) {
      if (state?.service) this.serviceChanges.record(serviceKey(state.service), state.service, undefined);
      this.services.delete(key);
      return;
    }
    const previous = state?.service;
    const built = buildService(after, this.opts.clusterDomain);
    const service = built && keepIfSame(previous, built);
    const selector = podSelector(after);
    if (state) {
      state.resource = after;
      state.service = service;
      state.selector = selector;
    } else {
      state = { resource: after, service, selector, selected: new Set() };
      this.services.set(key, state);
    }
    this.serviceChanges.record(serviceKey({ namespace: after.meta.namespace, hostname: serviceHostname(after, this.opts.clusterDomain) }), previous, service);
    if (selector) this.servicesByLabel.add(firstLabelKey(after.meta.namespace, selector), key);
    changed.push(state);
  }

  private rebuildWaypoints(dirty: Set<string>): void {
    const { waypoints, warnings } = buildWaypoints([...this.gateways.values()], this.opts);
    for (const [account, binding] of waypoints) {
      const old = this.waypoints.get(account);
      if (old && sameWaypoint(old, binding)) waypoints.set(account, old);
      else for (const key of this.podsByAccount.get(account)) dirty.add(key);
    }
    for (const account of this.waypoints.keys()) {
      if (!waypoints.has(account)) for (const key of this.podsByAccount.get(account)) dirty.add(key);
    }
    this.waypoints = waypoints;
    this.gatewayWarnings = warnings;
  }

  private matchingPods(namespace: string, selector: Labels, into: Set<string>): void {
    for (const key of this.podsByLabel.get(firstLabelKey(namespace, selector))) {
      const pod = this.currentPod(key);
      if (pod && selectsLabels(selector, pod.meta.labels)) into.add(key);
    }
  }

  /** Withdraws what the pod's last state contributed, then computes and contributes the new one. */
  private recomputePod(key: string): void {
    const old = this.pods.get(key);
    const pod = this.currentPod(key);
    if (old) this.contribute(key, old, -1);
    if (!pod) {
      this.pods.delete(key);
      if (old?.workload) this.workloadChanges.record(old.workload.uid, old.workload, undefined);
      return;
    }
    const labelKeys: string[] = [];
    for (const k in pod.meta.labels) labelKeys.push(labelKey(pod.meta.namespace, k, pod.meta.labels[k]!));
    const services: string[] = [];
    for (const lk of labelKeys) {
      for (const s of this.servicesByLabel.get(lk)) if (selectsLabels(this.services.get(s)!.selector!, pod.meta.labels)) services.push(s);
    }
    const authorization = this.authz.forPod(pod, labelKeys);
    const state: PodState = { resource: pod, services, authorization, workload: this.buildWorkload(key, pod, services, authorization, old) };
    this.contribute(key, state, 1);
    this.pods.set(key, state);
    const uid = (state.workload ?? old?.workload)?.uid;
    if (uid !== undefined) this.workloadChanges.record(uid, old?.workload, state.workload);
  }

  private buildWorkload(key: string, pod: PodResource, serviceKeys: readonly string[], authorization: PodAuthorization, old: PodState | undefined): Workload | undefined {
    if (!isRunning(pod)) return undefined;
    const entries: [string, PortMapping[]][] = [];
    for (const s of serviceKeys) {
      const state = this.services.get(s)!;
      const ports = resolvePorts(state.resource, pod);
      if (ports.length > 0) entries.push([serviceKey(state.service!), ports]);
    }
    for (const [s, ports] of this.slices.membershipOf(key)) entries.push([s, [...ports]]);
    entries.sort((a, b) => compareCodeUnits(a[0], b[0]));
    const services = Object.fromEntries(entries);
    const tunnelProtocol = isEnrolled(pod, this.namespaces.get(pod.meta.namespace)) ? TunnelProtocol.Hbone : TunnelProtocol.None;
    // A waypoint never fronts itself (its own pods run as the waypoint account, not the served one).
    const waypoint = tunnelProtocol === TunnelProtocol.Hbone ? this.waypoints.get(`${pod.meta.namespace}/${pod.spec.serviceAccountName}`) : undefined;
    const authorizationPolicies = authorization.folded ? [...authorization.policies, authorization.folded] : authorization.policies;
    const previous = old?.workload;
    if (previous && old.resource === pod && previous.tunnelProtocol === tunnelProtocol && sameWaypoint(previous.waypoint, waypoint) &&
      sameMembership(previous.services, services) && sameList(previous.authorizationPolicies, authorizationPolicies)) {
      return previous;
    }
    return keepIfSame(previous, buildWorkload(pod, { tunnelProtocol, waypoint, services, authorizationPolicies }, this.opts));
  }

  /** Adds (1) or withdraws (-1) a pod's part in the services and policies that select it. */
  private contribute(key: string, state: PodState, sign: 1 | -1): void {
    for (const s of state.services) {
      const svc = this.services.get(s);
      if (!svc) continue; // removed in this step
      if (sign > 0) svc.selected.add(key);
      else svc.selected.delete(key);
    }
    this.authz.contribute(key, state.resource, state.authorization, sign);
  }

  /** The new model from the recorded changes, and those changes in model order. */
  private publish(): ModelChanges {
    const workloads = this.workloadChanges.take(compareCodeUnits);
    const services = this.serviceChanges.take(compareCodeUnits);
    const authorizations = this.authz.take();
    this.newPods = new Map();
    this.currentWarnings = undefined;
    const before = this.currentModel;
    this.currentModel = {
      workloads: workloads.upserted.length + workloads.removed.length > 0 ? withChanges(before.workloads, workloads.upserted, workloads.removed, (w) => w.uid, compareCodeUnits) : before.workloads,
      services: services.upserted.length + services.removed.length > 0 ? withChanges(before.services, services.upserted, services.removed, serviceKey, compareCodeUnits) : before.services,
      authorizations: this.authz.authorizations,
    };
    return {
      upsertedWorkloads: workloads.upserted,
      removedWorkloads: workloads.removed,
      upsertedServices: services.upserted,
      removedServices: services.removed,
      upsertedAuthorizations: authorizations.upserted,
      removedAuthorizations: authorizations.removed,
    };
  }
}
