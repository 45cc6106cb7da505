// The compiled mesh model every proxy decides from, in Istio's workload-API vocabulary
// (istio.workload.Workload / Service, istio.security.Authorization): plain data, built by
// compile-model.ts and compile-authorization.ts.
import type { Authorization } from './compile-authorization.js';
import type { WaypointResource } from './waypoint-resources.js';

export type { Authorization };

export const TunnelProtocol = { Hbone: 'HBONE', None: 'NONE' } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

export const WorkloadStatus = { Healthy: 'HEALTHY', Unhealthy: 'UNHEALTHY' } as const;
export type WorkloadStatus = (typeof WorkloadStatus)[keyof typeof WorkloadStatus];

export interface PortMapping {
  readonly servicePort: number;
  readonly targetPort: number;
}

/**
 * The waypoint that serves a workload (per-service-account waypoints, Istio's original ambient
 * design): the Gateway it comes from, the Service that fronts it (port 15008) and the identity
 * it runs as, which ztunnel expects when it connects and the destination accepts traffic from.
 */
export interface WaypointBinding {
  /** `namespace/name` of the Gateway. */
  readonly gateway: string;
  /** `namespace/hostname` of the waypoint's Service. */
  readonly service: string;
  readonly hbonePort: number;
  readonly identity: { readonly trustDomain: string; readonly namespace: string; readonly serviceAccount: string };
}

export interface Workload {
  /**
   * `<cluster>//Pod/<namespace>/<name>`, stable across recompiles; an EndpointSlice endpoint that is
   * not a pod: `<cluster>/discovery.k8s.io/EndpointSlice/<namespace>/<slice>/<first address>`.
   */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly addresses: readonly string[];
  readonly node?: string;
  readonly trustDomain: string;
  /** Empty for an EndpointSlice endpoint that is not a pod (unknown; never HBONE). */
  readonly serviceAccount: string;
  /** HBONE when the pod is enrolled in the mesh (ambient), NONE otherwise. */
  readonly tunnelProtocol: TunnelProtocol;
  readonly status: WorkloadStatus;
  readonly networkMode: 'STANDARD' | 'HOST_NETWORK';
  readonly labels: Readonly<Record<string, string>>;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  /** `namespace/hostname` of each service this workload backs → its resolved port mappings. */
  readonly services: Readonly<Record<string, readonly PortMapping[]>>;
  /** Set when the workload's service account has a waypoint. */
  readonly waypoint?: WaypointBinding;
  /** Names of the WORKLOAD_SELECTOR Authorizations that apply to it (incl. folded PeerAuthentication). */
  readonly authorizationPolicies: readonly string[];
}

export interface ServicePortSpec {
  readonly servicePort: number;
  /** 0 when the target is a named port, resolved per workload (then `targetPortName` is set). */
  readonly targetPort: number;
  readonly targetPortName?: string;
  readonly appProtocol?: string;
}

export interface Service {
  readonly name: string;
  readonly namespace: string;
  /** `<name>.<namespace>.svc.<cluster domain>`. */
  readonly hostname: string;
  /** Cluster IPs; empty for a headless service. */
  readonly addresses: readonly string[];
  readonly ports: readonly ServicePortSpec[];
  readonly headless: boolean;
}

/** What changed between two models: upserted objects, and removed uids / service keys / names. */
export interface ModelChanges {
  readonly upsertedWorkloads: readonly Workload[];
  readonly removedWorkloads: readonly string[];
  readonly upsertedServices: readonly Service[];
  readonly removedServices: readonly string[];
  readonly upsertedAuthorizations: readonly Authorization[];
  readonly removedAuthorizations: readonly string[];
  /** L7 resources for waypoints (ConfigStore only; never from the compiler, never sent to ztunnels). */
  readonly upsertedWaypointResources?: readonly WaypointResource[];
  /** `Kind/namespace/name` of each removed L7 resource. */
  readonly removedWaypointResources?: readonly string[];
}

export interface MeshModel {
  readonly workloads: readonly Workload[];
  readonly services: readonly Service[];
  /** L4 policies for ztunnel, PeerAuthentication folded in. */
  readonly authorizations: readonly Authorization[];
}

export function serviceKey(s: Pick<Service, 'namespace' | 'hostname'>): string {
  return `${s.namespace}/${s.hostname}`;
}
