// Per-object builders shared by the full compile (compile-model.ts) and the incremental one
// (model-compiler.ts): enrollment, running state, ports, Service, Workload and the waypoint
// bindings of the Gateways. Pure; each output depends only on its arguments.
import type { ConfigError } from './config-error.js';
import { waypointFor } from './gateway-decoders.js';
import type { GatewayResource } from './gateway-resources.js';
import { WorkloadStatus, type PortMapping, type TunnelProtocol, type Service, type ServicePortSpec, type WaypointBinding, type Workload } from './model.js';
import type { NamespaceResource, PodResource, ServiceResource } from './resources.js';

export const dataplaneModeLabel = 'istio.io/dataplane-mode';

export interface ModelOptions {
  readonly trustDomain: string;
  readonly clusterDomain?: string;
  readonly clusterId?: string;
  /** Where mesh-wide (GLOBAL) policies live; Istio's default. */
  readonly rootNamespace?: string;
}

/**
 * What the control plane deploys for a waypoint Gateway `G` (Deployment, Service and
 * ServiceAccount all named so, as Istio's `<name>-istio-waypoint`).
 */
export function waypointWorkloadName(gatewayName: string): string {
  return `${gatewayName}-istio-waypoint`;
}

/** A non-empty selector whose every label the object carries. */
export function selectsLabels(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  let any = false;
  for (const k in selector) {
    if (labels[k] !== selector[k]) return false;
    any = true;
  }
  return any;
}

/** The `namespace, label=value` key pods, services and policies are indexed by. */
export function labelKey(namespace: string, key: string, value: string): string {
  return `${namespace}\u0000${key}=${value}`;
}

/** The key a selector is filed under: its first label (every match carries it). */
export function firstLabelKey(namespace: string, selector: Readonly<Record<string, string>>): string {
  const [k, v] = Object.entries(selector)[0]!;
  return labelKey(namespace, k, v);
}

export function isEnrolled(pod: PodResource, ns: NamespaceResource | undefined): boolean {
  if (pod.spec.hostNetwork) return false;
  const podMode = pod.meta.labels[dataplaneModeLabel];
  if (podMode === 'none') return false;
  if (podMode === 'ambient') return true;
  return ns?.meta.labels[dataplaneModeLabel] === 'ambient';
}

/** Pods that finished, or have no IP yet, are not workloads (they still count for selectors). */
export function isRunning(pod: PodResource): boolean {
  if (pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') return false;
  return pod.status.podIPs.length > 0 || pod.spec.hostNetwork;
}

function canonical(pod: PodResource): { name: string; revision: string } {
  const l = pod.meta.labels;
  return {
    name: l['service.istio.io/canonical-name'] ?? l['app.kubernetes.io/name'] ?? l['app'] ?? pod.meta.name,
    revision: l['service.istio.io/canonical-revision'] ?? l['app.kubernetes.io/version'] ?? l['version'] ?? 'latest',
  };
}

/** The service's TCP ports as this pod serves them; a named target the pod lacks is left out. */
export function resolvePorts(svc: ServiceResource, pod: PodResource): PortMapping[] {
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

export function serviceHostname(svc: ServiceResource, clusterDomain = 'cluster.local'): string {
  return `${svc.meta.name}.${svc.meta.namespace}.svc.${clusterDomain}`;
}

/** The modelled Service, or undefined for ExternalName (a DNS alias, not in the mesh). */
export function buildService(svc: ServiceResource, clusterDomain = 'cluster.local'): Service | undefined {
  if (svc.spec.type === 'ExternalName') return undefined;
  return {
    name: svc.meta.name,
    namespace: svc.meta.namespace,
    hostname: serviceHostname(svc, clusterDomain),
    addresses: svc.spec.clusterIPs,
    ports: servicePorts(svc),
    headless: svc.spec.headless,
  };
}

/** Whether a service selects pods itself (else its endpoints are managed elsewhere). */
export function podSelector(svc: ServiceResource): Readonly<Record<string, string>> | undefined {
  if (svc.spec.type === 'ExternalName') return undefined;
  const selector = svc.spec.selector;
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

export function selectsNoPodWarning(svc: ServiceResource): ConfigError {
  return { source: 'model', kind: 'Service', namespace: svc.meta.namespace, name: svc.meta.name, path: 'spec.selector', reason: 'selects no pod' };
}

/** `namespace/serviceAccount` → its waypoint; two waypoints for one account: the first by name wins. */
export function buildWaypoints(gateways: readonly GatewayResource[], opts: ModelOptions): { waypoints: Map<string, WaypointBinding>; warnings: ConfigError[] } {
  const clusterDomain = opts.clusterDomain ?? 'cluster.local';
  const waypoints = new Map<string, WaypointBinding>();
  const warnings: ConfigError[] = [];
  for (const gw of [...gateways].sort((a, b) => (a.meta.name < b.meta.name ? -1 : 1))) {
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
  return { waypoints, warnings };
}

export interface WorkloadInputs {
  readonly tunnelProtocol: TunnelProtocol;
  readonly waypoint: WaypointBinding | undefined;
  /** Keys in sorted order, so the same inputs always serialize the same way. */
  readonly services: Readonly<Record<string, readonly PortMapping[]>>;
  readonly authorizationPolicies: readonly string[];
}

export function buildWorkload(pod: PodResource, inputs: WorkloadInputs, opts: ModelOptions): Workload {
  const c = canonical(pod);
  return {
    uid: `${opts.clusterId ?? 'Kubernetes'}//Pod/${pod.meta.namespace}/${pod.meta.name}`,
    name: pod.meta.name,
    namespace: pod.meta.namespace,
    addresses: pod.status.podIPs,
    ...(pod.spec.nodeName !== undefined ? { node: pod.spec.nodeName } : {}),
    trustDomain: opts.trustDomain,
    serviceAccount: pod.spec.serviceAccountName,
    tunnelProtocol: inputs.tunnelProtocol,
    status: pod.status.ready ? WorkloadStatus.Healthy : WorkloadStatus.Unhealthy,
    networkMode: pod.spec.hostNetwork ? 'HOST_NETWORK' : 'STANDARD',
    labels: pod.meta.labels,
    canonicalName: c.name,
    canonicalRevision: c.revision,
    services: inputs.services,
    ...(inputs.waypoint ? { waypoint: inputs.waypoint } : {}),
    authorizationPolicies: inputs.authorizationPolicies,
  };
}

/** The same record with its keys in sorted order. */
export function sortedRecord<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(record).sort()) out[k] = record[k]!;
  return out;
}

/** Waypoint bindings are equal (fields a proxy acts on). */
export function sameWaypoint(a: WaypointBinding | undefined, b: WaypointBinding | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.gateway === b.gateway && a.service === b.service && a.hbonePort === b.hbonePort &&
    a.identity.serviceAccount === b.identity.serviceAccount && a.identity.namespace === b.identity.namespace && a.identity.trustDomain === b.identity.trustDomain);
}
