// compileModel(): decoded resources in, the mesh model out (pure). Enrollment follows Istio
// ambient: a namespace labelled istio.io/dataplane-mode=ambient enrolls its pods, a pod labelled
// istio.io/dataplane-mode=none opts out; host-network pods are never captured. A service's
// endpoints are the running pods its selector matches, with named target ports resolved per pod
// (a pod without that port is not an endpoint for it, as in Kubernetes). A service without a
// selector takes its endpoints from its EndpointSlices (slice-endpoints.ts); a service with one
// ignores them, as Istio ambient does: it derives workloads from the pods themselves.
import type { ConfigError } from './config-error.js';
import type { Resource } from './decode.js';
import type { GatewayResource } from './gateway-resources.js';
import { buildService, buildWaypoints, buildWorkload, isEnrolled, isRunning, labelKey, podSelector, resolvePorts, selectsLabels, selectsNoPodWarning, sortedRecord, type ModelOptions } from './model-builders.js';
import { serviceKey, TunnelProtocol, type MeshModel, type PortMapping, type Service, type Workload } from './model.js';
import { serviceNameLabel, type EndpointSliceResource, type NamespaceResource, type PodResource, type ServiceResource } from './resources.js';
import { buildSliceEndpoints, fqdnSliceWarning } from './slice-endpoints.js';
import { compareCodeUnits } from './sorted-list.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource } from './security-resources.js';
import { compileAuthorization, missingPortWarnings } from './compile-authorization.js';

export { dataplaneModeLabel, waypointWorkloadName } from './model-builders.js';

export type CompileOptions = ModelOptions;

export interface CompileResult {
  readonly model: MeshModel;
  /** Problems in how resources relate (a service selecting nothing...); the model still applies. */
  readonly warnings: ConfigError[];
}

/**
 * The whole model from scratch. ConfigStore maintains the same model incrementally
 * (ModelCompiler); this function is its specification and is checked against it.
 */
export function compileModel(resources: readonly Resource[], opts: CompileOptions): CompileResult {
  const clusterDomain = opts.clusterDomain ?? 'cluster.local';
  const warnings: ConfigError[] = [];
  const namespaces = new Map<string, NamespaceResource>();
  const pods: PodResource[] = [];
  const svcs: ServiceResource[] = [];
  const gateways: GatewayResource[] = [];
  const policies: AuthorizationPolicyResource[] = [];
  const peerAuths: PeerAuthenticationResource[] = [];
  const slices: EndpointSliceResource[] = [];
  for (const r of resources) {
    if (r.kind === 'Namespace') namespaces.set(r.meta.name, r);
    else if (r.kind === 'Pod') pods.push(r);
    else if (r.kind === 'Service') svcs.push(r);
    else if (r.kind === 'Gateway') gateways.push(r);
    else if (r.kind === 'AuthorizationPolicy') policies.push(r);
    else if (r.kind === 'PeerAuthentication') peerAuths.push(r);
    else if (r.kind === 'EndpointSlice') slices.push(r);
  }
  const authz = compileAuthorization(policies, peerAuths, opts.rootNamespace);
  warnings.push(...authz.warnings);
  const { waypoints, warnings: waypointWarnings } = buildWaypoints(gateways, opts);
  warnings.push(...waypointWarnings);

  // Pods by namespace and `label=value`, so selecting is a lookup plus a check of the other
  // selector labels, not a scan of every pod for every service (10k pods x 1k services).
  const podsByLabel = new Map<string, PodResource[]>();
  for (const pod of pods) {
    for (const [k, v] of Object.entries(pod.meta.labels)) {
      const key = labelKey(pod.meta.namespace, k, v);
      const list = podsByLabel.get(key);
      if (list) list.push(pod);
      else podsByLabel.set(key, [pod]);
    }
  }
  const services: Service[] = [];
  const membership = new Map<PodResource, Record<string, PortMapping[]>>();
  const slicesByService = new Map<string, EndpointSliceResource[]>();
  for (const slice of [...slices].sort((a, b) => compareCodeUnits(a.meta.name, b.meta.name))) {
    const fqdn = fqdnSliceWarning(slice);
    if (fqdn) warnings.push(fqdn);
    const name = slice.meta.labels[serviceNameLabel];
    if (name === undefined) continue;
    const key = `${slice.meta.namespace}/${name}`;
    const list = slicesByService.get(key);
    if (list) list.push(slice);
    else slicesByService.set(key, [slice]);
  }
  const podsByKey = new Map(pods.map((p) => [`${p.meta.namespace}/${p.meta.name}`, p]));
  const sliceWorkloads: Workload[] = [];
  for (const svc of svcs) {
    const service = buildService(svc, clusterDomain);
    if (!service) continue;
    services.push(service);
    const selector = podSelector(svc);
    if (!selector) {
      // Endpoints managed elsewhere: the service's EndpointSlices say which.
      const ends = buildSliceEndpoints(svc, service, slicesByService.get(`${svc.meta.namespace}/${svc.meta.name}`) ?? [], (k) => podsByKey.has(k), opts);
      for (const [podKey, ports] of ends.pods) {
        const pod = podsByKey.get(podKey)!;
        const entry = membership.get(pod) ?? {};
        entry[ends.serviceKey] = [...ports];
        membership.set(pod, entry);
      }
      sliceWorkloads.push(...ends.workloads);
      warnings.push(...ends.warnings);
      continue;
    }
    let matched = 0;
    const [firstKey, firstValue] = Object.entries(selector)[0]!;
    for (const pod of podsByLabel.get(labelKey(svc.meta.namespace, firstKey, firstValue)) ?? []) {
      if (!selectsLabels(selector, pod.meta.labels)) continue;
      matched++;
      const ports = resolvePorts(svc, pod);
      if (ports.length === 0) continue;
      const entry = membership.get(pod) ?? {};
      entry[serviceKey(service)] = ports;
      membership.set(pod, entry);
    }
    if (matched === 0) warnings.push(selectsNoPodWarning(svc));
  }

  const workloads: Workload[] = [];
  for (const pod of pods) {
    if (!isRunning(pod)) continue; // finished, or not scheduled/started yet
    const tunnelProtocol = isEnrolled(pod, namespaces.get(pod.meta.namespace)) ? TunnelProtocol.Hbone : TunnelProtocol.None;
    // A waypoint never fronts itself (its own pods run as the waypoint account, not the served one).
    const waypoint = tunnelProtocol === TunnelProtocol.Hbone ? waypoints.get(`${pod.meta.namespace}/${pod.spec.serviceAccountName}`) : undefined;
    workloads.push(buildWorkload(pod, { tunnelProtocol, waypoint, services: sortedRecord(membership.get(pod) ?? {}), authorizationPolicies: authz.policiesFor(pod) }, opts));
  }
  workloads.push(...sliceWorkloads);
  warnings.push(...selectedPortWarnings(policies, pods, authz.policiesFor));
  workloads.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  services.sort((a, b) => (serviceKey(a) < serviceKey(b) ? -1 : serviceKey(a) > serviceKey(b) ? 1 : 0));
  return { model: { workloads, services, authorizations: authz.authorizations }, warnings };
}

/**
 * A selector policy whose rules name a port that none of the workloads it selects exposes is
 * almost always a mistake (a service port written where the pod's port belongs): warn, naming it.
 * Pods that declare no ports at all are not held against the policy.
 */
function selectedPortWarnings(policies: readonly AuthorizationPolicyResource[], pods: readonly PodResource[], policiesFor: (pod: PodResource) => string[]): ConfigError[] {
  const exposed = new Map<string, Set<number> | 'unknown'>();
  for (const pod of pods) {
    for (const name of policiesFor(pod)) {
      const known = exposed.get(name);
      if (known === 'unknown') continue;
      if (pod.spec.ports.length === 0) {
        exposed.set(name, 'unknown');
        continue;
      }
      const set = known ?? new Set<number>();
      for (const p of pod.spec.ports) set.add(p.containerPort);
      exposed.set(name, set);
    }
  }
  const out: ConfigError[] = [];
  for (const p of policies) {
    const ports = exposed.get(`${p.meta.namespace}/${p.meta.name}`);
    if (ports && ports !== 'unknown') out.push(...missingPortWarnings(p, ports));
  }
  return out;
}
