// waypointPolicies(): which policies a waypoint enforces for one destination (facts §6.1–6.2).
// Attached by targetRefs: the waypoint's Gateway (gateway.networking.k8s.io, same namespace), the
// destination Service (core group '', same namespace), or the GatewayClass `istio-waypoint` from
// the root namespace (mesh-wide); or, Istio's original per-service-account design, a selector
// `istio.io/gateway-name: <gateway>` in the gateway's namespace. Generic over the shape, so
// AuthorizationPolicy and RequestAuthentication are selected the same way.
import type { PolicyTargetRef, WorkloadSelector } from '../config/security-resources.js';

export const gatewayApiGroup = 'gateway.networking.k8s.io';
export const waypointGatewayClass = 'istio-waypoint';
export const gatewayNameLabel = 'istio.io/gateway-name';

export interface AttachablePolicy {
  readonly meta: { readonly namespace: string; readonly name: string };
  readonly spec: { readonly selector?: WorkloadSelector; readonly targetRefs: readonly PolicyTargetRef[] };
}

export interface WaypointTarget {
  /** The waypoint's Gateway. */
  readonly gateway: { readonly namespace: string; readonly name: string };
  /** The destination Service; absent for pod-addressed traffic. */
  readonly service?: { readonly namespace: string; readonly name: string };
  /** Default `istio-system`. */
  readonly rootNamespace?: string;
}

function refSelects(ref: PolicyTargetRef, policyNamespace: string, t: WaypointTarget, root: string): boolean {
  // Istio rejects cross-namespace references; a ref naming another namespace selects nothing.
  const ns = ref.namespace ?? policyNamespace;
  if (ns !== policyNamespace) return false;
  if (ref.kind === 'Gateway' && ref.group === gatewayApiGroup) return ns === t.gateway.namespace && ref.name === t.gateway.name;
  if (ref.kind === 'Service' && ref.group === '') return t.service !== undefined && ns === t.service.namespace && ref.name === t.service.name;
  if (ref.kind === 'GatewayClass' && ref.group === gatewayApiGroup) return ref.name === waypointGatewayClass && policyNamespace === root;
  return false; // ServiceEntry and other kinds: no such destinations here
}

function selectorSelects(selector: WorkloadSelector | undefined, policyNamespace: string, t: WaypointTarget): boolean {
  if (!selector || policyNamespace !== t.gateway.namespace) return false;
  const labels = selector.matchLabels;
  const keys = Object.keys(labels);
  // Only the waypoint's own label: a selector naming other labels selects workloads (ztunnel's).
  return keys.length === 1 && keys[0] === gatewayNameLabel && labels[gatewayNameLabel] === t.gateway.name;
}

/** The policies among `all` that apply at this waypoint for this destination, in input order. */
export function waypointPolicies<P extends AttachablePolicy>(all: readonly P[], target: WaypointTarget): P[] {
  const root = target.rootNamespace ?? 'istio-system';
  return all.filter((p) => p.spec.targetRefs.length > 0
    ? p.spec.targetRefs.some((ref) => refSelects(ref, p.meta.namespace, target, root))
    : selectorSelects(p.spec.selector, p.meta.namespace, target));
}
