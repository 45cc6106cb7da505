// compileModel(): decoded resources in, the mesh model out (pure). Enrollment follows Istio
// ambient: a namespace labelled istio.io/dataplane-mode=ambient enrolls its pods, a pod labelled
// istio.io/dataplane-mode=none opts out; host-network pods are never captured. A service's
// endpoints are the running pods its selector matches, with named target ports resolved per pod
// (a pod without that port is not an endpoint for it, as in Kubernetes).
import type { ConfigError } from './config-error.js';
import type { Resource } from './decode.js';
import { waypointFor } from './gateway-decoders.js';
import { serviceKey, TunnelProtocol, WorkloadStatus, type MeshModel, type PortMapping, type Service, type ServicePortSpec, type WaypointBinding, type Workload } from './model.js';
import type { NamespaceResource, PodResource, ServiceResource } from './resources.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource } from './security-resources.js';
import { compileAuthorization, type Authorization } from './compile-authorization.js';

export const dataplaneModeLabel = 'istio.io/dataplane-mode';

/**
 * What the control plane deploys for a waypoint Gateway `G` (Deployment, Service and
 * ServiceAccount all named so, as Istio's `<name>-istio-waypoint`).
 */
export function waypointWorkloadName(gatewayName: string): string {
  return `${gatewayName}-istio-waypoint`;
}

export interface CompileOptions {
  readonly trustDomain: string;
  readonly clusterDomain?: string;
  readonly clusterId?: string;
  /** Where mesh-wide (GLOBAL) policies live; Istio's default. */
  readonly rootNamespace?: string;
  /** Workloads of the last compile by pod object: an unchanged pod keeps its Workload object, so
   *  diffs can compare by identity (an edit to one file must not cost a full re-serialization). */
  readonly cache?: CompileCache;
}

/** Objects of the last compile, keyed by the resource they came from (see CompileOptions.cache). */
export interface CompileCache {
  readonly workloads: WeakMap<PodResource, Workload>;
  readonly services: WeakMap<ServiceResource, Service>;
  readonly authorizations: WeakMap<AuthorizationPolicyResource, Authorization>;
}

export function newCompileCache(): CompileCache {
  return { workloads: new WeakMap(), services: new WeakMap(), authorizations: new WeakMap() };
}

export interface CompileResult {
  readonly model: MeshModel;
  /** Problems in how resources relate (a service selecting nothing...); the model still applies. */
  readonly warnings: ConfigError[];
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  let any = false;
  for (const k in selector) {
    if (labels[k] !== selector[k]) return false;
    any = true;
  }
  return any;
}

// Structural comparisons for the workload cache (JSON.stringify here cost ~40 % of a recompile).
function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameServices(a: Readonly<Record<string, readonly PortMapping[]>>, b: Readonly<Record<string, readonly PortMapping[]>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const pa = a[k]!;
    const pb = b[k];
    if (!pb || pa.length !== pb.length) return false;
    for (let i = 0; i < pa.length; i++) if (pa[i]!.servicePort !== pb[i]!.servicePort || pa[i]!.targetPort !== pb[i]!.targetPort) return false;
  }
  return true;
}

function sameWaypoint(a: WaypointBinding | undefined, b: WaypointBinding | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.gateway === b.gateway && a.service === b.service && a.identity.serviceAccount === b.identity.serviceAccount && a.identity.trustDomain === b.identity.trustDomain);
}

function isEnrolled(pod: PodResource, ns: NamespaceResource | undefined): boolean {
  if (pod.spec.hostNetwork) return false;
  const podMode = pod.meta.labels[dataplaneModeLabel];
  if (podMode === 'none') return false;
  if (podMode === 'ambient') return true;
  return ns?.meta.labels[dataplaneModeLabel] === 'ambient';
}

function canonical(pod: PodResource): { name: string; revision: string } {
  const l = pod.meta.labels;
  return {
    name: l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l['app'] ?? pod.meta.name,
    revision: l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l['version'] ?? 'latest',
  };
}

function resolvePorts(svc: ServiceResource, pod: PodResource): PortMapping[] {
  const out: PortMapping[] = [];
  for (const p of svc.spec.ports) {
    if (p.protocol !== 'TCP') continue; // the mesh carries TCP only
    if (typeof p.targetPort === 'number') {
      out.push({ servicePort: p.port, targetPort: p.targetPort });
      continue;
    }
    const named = pod.spec.ports.find((cp) => cp.name === p.targetPort && cp.protocol === 'TCP');
    if (named) out.push({ servicePort: p.port, targetPort: named.containerPort });
  }
  return out;
}

function servicePorts(svc: ServiceResource): ServicePortSpec[] {
  return svc.spec.ports
    .filter((p) => p.protocol === 'TCP')
    .map((p) => ({
      servicePort: p.port,
      targetPort: typeof p.targetPort === 'number' ? p.targetPort : 0,
      ...(typeof p.targetPort === 'string' ? { targetPortName: p.targetPort } : {}),
      ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
    }));
}

export function compileModel(resources: readonly Resource[], opts: CompileOptions): CompileResult {
  const clusterDomain = opts.clusterDomain ?? 'cluster.local';
  const clusterId = opts.clusterId ?? 'Kubernetes';
  const warnings: ConfigError[] = [];
  const namespaces = new Map<string, NamespaceResource>();
  const pods: PodResource[] = [];
  const svcs: ServiceResource[] = [];
  /** `namespace/serviceAccount` → its waypoint; two waypoints for one account: the first by name wins. */
  const waypoints = new Map<string, WaypointBinding>();
  const gateways = resources.filter((r) => r.kind === 'Gateway').sort((a, b) => (a.meta.name < b.meta.name ? -1 : 1));
  const policies: AuthorizationPolicyResource[] = [];
  const peerAuths: PeerAuthenticationResource[] = [];
  for (const r of resources) {
    if (r.kind === 'Namespace') namespaces.set(r.meta.name, r);
    else if (r.kind === 'Pod') pods.push(r);
    else if (r.kind === 'Service') svcs.push(r);
    else if (r.kind === 'AuthorizationPolicy') policies.push(r);
    else if (r.kind === 'PeerAuthentication') peerAuths.push(r);
  }
  const authz = compileAuthorization(policies, peerAuths, opts.rootNamespace, opts.cache?.authorizations);
  warnings.push(...authz.warnings);
  for (const gw of gateways) {
    if (gw.kind !== 'Gateway') continue;
    const forSa = waypointFor(gw);
    if (!forSa) continue;
    const key = `${gw.meta.namespace}/${forSa.serviceAccount}`;
    const existing = waypoints.get(key);
    if (existing) {
      warnings.push({ source: 'model', kind: 'Gateway', namespace: gw.meta.namespace, name: gw.meta.name, path: 'metadata.annotations', reason: `service account ${forSa.serviceAccount} already has waypoint ${existing.gateway}; this one is ignored` });
      continue;
    }
    const workloadName = waypointWorkloadName(gw.meta.name);
    waypoints.set(key, {
      gateway: `${gw.meta.namespace}/${gw.meta.name}`,
      service: `${gw.meta.namespace}/${workloadName}.${gw.meta.namespace}.svc.${clusterDomain}`,
      hbonePort: 15008,
      identity: { trustDomain: opts.trustDomain, namespace: gw.meta.namespace, serviceAccount: workloadName },
    });
  }

  // Pods by namespace and `label=value`, so selecting is a lookup plus a check of the other
  // selector labels, not a scan of every pod for every service (10k pods x 1k services).
  const podsByLabel = new Map<string, PodResource[]>();
  for (const pod of pods) {
    for (const [k, v] of Object.entries(pod.meta.labels)) {
      const key = `${pod.meta.namespace}\u0000${k}=${v}`;
      const list = podsByLabel.get(key);
      if (list) list.push(pod);
      else podsByLabel.set(key, [pod]);
    }
  }
  const services: Service[] = [];
  const membership = new Map<PodResource, Record<string, PortMapping[]>>();
  for (const svc of svcs) {
    if (svc.spec.type === 'ExternalName') continue;
    const service: Service = opts.cache?.services.get(svc) ?? {
      name: svc.meta.name,
      namespace: svc.meta.namespace,
      hostname: `${svc.meta.name}.${svc.meta.namespace}.svc.${clusterDomain}`,
      addresses: svc.spec.clusterIPs,
      ports: servicePorts(svc),
      headless: svc.spec.headless,
    };
    opts.cache?.services.set(svc, service);
    services.push(service);
    const selector = svc.spec.selector;
    if (!selector || Object.keys(selector).length === 0) continue; // endpoints managed elsewhere
    let matched = 0;
    const [firstKey, firstValue] = Object.entries(selector)[0]!;
    for (const pod of podsByLabel.get(`${svc.meta.namespace}\u0000${firstKey}=${firstValue}`) ?? []) {
      if (!selects(selector, pod.meta.labels)) continue;
      matched++;
      const ports = resolvePorts(svc, pod);
      if (ports.length === 0) continue;
      const entry = membership.get(pod) ?? {};
      entry[serviceKey(service)] = ports;
      membership.set(pod, entry);
    }
    if (matched === 0) {
      warnings.push({ source: 'model', kind: 'Service', namespace: svc.meta.namespace, name: svc.meta.name, path: 'spec.selector', reason: 'selects no pod' });
    }
  }

  const workloads: Workload[] = [];
  for (const pod of pods) {
    if (pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') continue;
    if (pod.status.podIPs.length === 0 && !pod.spec.hostNetwork) continue; // not scheduled/started yet
    const services = membership.get(pod) ?? {};
    const protocol = isEnrolled(pod, namespaces.get(pod.meta.namespace)) ? TunnelProtocol.Hbone : TunnelProtocol.None;
    // A waypoint never fronts itself (its own pods run as the waypoint account, not the served one).
    const waypoint = protocol === TunnelProtocol.Hbone ? waypoints.get(`${pod.meta.namespace}/${pod.spec.serviceAccountName}`) : undefined;
    const authorizationPolicies = authz.policiesFor(pod);
    const cached = opts.cache?.workloads.get(pod);
    if (cached && cached.tunnelProtocol === protocol && cached.trustDomain === opts.trustDomain && sameWaypoint(cached.waypoint, waypoint) &&
      sameServices(cached.services, services) && sameList(cached.authorizationPolicies, authorizationPolicies)) {
      workloads.push(cached);
      continue;
    }
    const c = canonical(pod);
    const workload: Workload = {
      uid: `${clusterId}//Pod/${pod.meta.namespace}/${pod.meta.name}`,
      name: pod.meta.name,
      namespace: pod.meta.namespace,
      addresses: pod.status.podIPs,
      ...(pod.spec.nodeName !== undefined ? { node: pod.spec.nodeName } : {}),
      trustDomain: opts.trustDomain,
      serviceAccount: pod.spec.serviceAccountName,
      tunnelProtocol: protocol,
      status: pod.status.ready ? WorkloadStatus.Healthy : WorkloadStatus.Unhealthy,
      networkMode: pod.spec.hostNetwork ? 'HOST_NETWORK' : 'STANDARD',
      labels: pod.meta.labels,
      canonicalName: c.name,
      canonicalRevision: c.revision,
      services,
      ...(waypoint ? { waypoint } : {}),
      authorizationPolicies,
    };
    opts.cache?.workloads.set(pod, workload);
    workloads.push(workload);
  }
  warnings.push(...missingPortWarnings(policies, pods, authz.policiesFor));
  workloads.sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  services.sort((a, b) => (serviceKey(a) < serviceKey(b) ? -1 : serviceKey(a) > serviceKey(b) ? 1 : 0));
  return { model: { workloads, services, authorizations: authz.authorizations }, warnings };
}

/**
 * A selector policy whose rules name a port that none of the workloads it selects exposes is
 * almost always a mistake (a service port written where the pod's port belongs): warn, naming it.
 * Pods that declare no ports at all are not held against the policy.
 */
function missingPortWarnings(policies: readonly AuthorizationPolicyResource[], pods: readonly PodResource[], policiesFor: (pod: PodResource) => string[]): ConfigError[] {
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
    if (!ports || ports === 'unknown') continue;
    p.spec.rules.forEach((rule, r) => rule.to.forEach((to, t) => {
      for (const port of to.ports) {
        if (!ports.has(port)) {
          out.push({ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: `spec.rules[${r}].to[${t}].operation.ports`,
            reason: `port ${port} is not a port of any workload this policy selects (they expose ${[...ports].sort((a, b) => a - b).join(', ')}); policies match the workload's port, not the service port` });
        }
      }
    }));
  }
  return out;
}