// buildSliceEndpoints(): the endpoints of a Service without a selector, from the EndpointSlices
// labelled `kubernetes.io/service-name: <service>` in its namespace (pure; shared by the full and
// the incremental compile). Follows Istio ambient's EndpointSlice workloads: one Workload per
// endpoint that is not a pod (uid `<cluster>/discovery.k8s.io/EndpointSlice/<ns>/<slice>/<first
// address>`, no service account, no waypoint, not HBONE), TCP ports only, a slice port matched to
// the service port by name. Unlike Istio, which skips pod endpoints, an endpoint whose targetRef is
// a pod known to the model makes that pod's Workload a member of the service.
import type { ConfigError } from './config-error.js';
import type { ModelOptions } from './model-builders.js';
import { TunnelProtocol, WorkloadStatus, type PortMapping, type Service, type Workload } from './model.js';
import { serviceKey } from './model.js';
import { AddressType, type EndpointSliceResource, type ServiceResource, type SliceEndpoint } from './resources.js';

export interface SliceEndpoints {
  /** `namespace/hostname` of the service (the key in Workload.services). */
  readonly serviceKey: string;
  /** Known pods (`namespace/name`) targeted by an endpoint → their port mappings, service port order. */
  readonly pods: ReadonlyMap<string, readonly PortMapping[]>;
  /** Every pod an endpoint targets, known or not: a pod appearing or going changes the result. */
  readonly podRefs: readonly string[];
  /** Endpoints that are not known pods. */
  readonly workloads: readonly Workload[];
  readonly warnings: readonly ConfigError[];
}

/** FQDN slices are decoded but not modelled (Istio ambient ignores them too). */
export function fqdnSliceWarning(slice: EndpointSliceResource): ConfigError | undefined {
  if (slice.addressType !== AddressType.Fqdn) return undefined;
  return { source: 'model', kind: 'EndpointSlice', namespace: slice.meta.namespace, name: slice.meta.name, path: 'addressType', reason: 'FQDN endpoints are not supported; this slice is ignored' };
}

/**
 * The service's TCP ports as this slice serves them: each service port to the slice port of the
 * same name (Kubernetes names slice ports after service ports; unnamed is ""), or, when both have
 * a single port, to that one. A slice port without a number ("all ports") maps nothing.
 */
export function slicePortMappings(svc: ServiceResource, slice: EndpointSliceResource): PortMapping[] {
  const out: PortMapping[] = [];
  const only = svc.spec.ports.length === 1 && slice.ports.length === 1 ? slice.ports[0] : undefined;
  for (const sp of svc.spec.ports) {
    if (sp.protocol !== 'TCP') continue; // the mesh carries TCP only
    const match = slice.ports.find((p) => p.name === (sp.name ?? '')) ?? only;
    if (match?.port !== undefined && match.protocol === 'TCP') out.push({ servicePort: sp.port, targetPort: match.port });
  }
  return out;
}

function endpointWorkload(svc: ServiceResource, slice: EndpointSliceResource, e: SliceEndpoint, key: string, ports: readonly PortMapping[], opts: ModelOptions): Workload {
  const ns = slice.meta.namespace;
  return {
    uid: `${opts.clusterId ?? 'Kubernetes'}/discovery.k8s.io/EndpointSlice/${ns}/${slice.meta.name}/${e.addresses[0]!}`,
    name: slice.meta.name,
    namespace: ns,
    addresses: e.addresses,
    ...(e.nodeName !== undefined ? { node: e.nodeName } : {}),
    trustDomain: opts.trustDomain,
    serviceAccount: '', // unknown: not a pod (Istio leaves it empty too)
    // Not a mesh member: ztunnel sends it plain TCP (passthrough), never HBONE.
    tunnelProtocol: TunnelProtocol.None,
    // The API: a nil `ready` "should be interpreted as ready".
    status: e.ready === false ? WorkloadStatus.Unhealthy : WorkloadStatus.Healthy,
    networkMode: 'STANDARD',
    labels: {},
    canonicalName: svc.meta.name,
    canonicalRevision: 'latest',
    services: { [key]: ports },
    authorizationPolicies: [],
  };
}

/**
 * `slices` are the service's, in name order (the order decides which slice wins a pod or a port
 * listed twice). An endpoint that maps no service port is not an endpoint, as for pods.
 */
export function buildSliceEndpoints(svc: ServiceResource, service: Service, slices: readonly EndpointSliceResource[], isKnownPod: (podKey: string) => boolean, opts: ModelOptions): SliceEndpoints {
  const key = serviceKey(service);
  const podPorts = new Map<string, Map<number, number>>();
  const podRefs = new Set<string>();
  const workloads: Workload[] = [];
  const warnings: ConfigError[] = [];
  for (const slice of slices) {
    if (slice.addressType === AddressType.Fqdn) continue;
    const ports = slicePortMappings(svc, slice);
    const seen = new Set<string>();
    for (const e of slice.endpoints) {
      const pod = e.targetPod && `${e.targetPod.namespace}/${e.targetPod.name}`;
      if (pod !== undefined) podRefs.add(pod);
      if (ports.length === 0) continue;
      if (pod !== undefined && isKnownPod(pod)) {
        const mapped = podPorts.get(pod) ?? new Map<number, number>();
        for (const p of ports) if (!mapped.has(p.servicePort)) mapped.set(p.servicePort, p.targetPort);
        podPorts.set(pod, mapped);
        continue;
      }
      if (seen.has(e.addresses[0]!)) {
        warnings.push({ source: 'model', kind: 'EndpointSlice', namespace: slice.meta.namespace, name: slice.meta.name, path: 'endpoints', reason: `address ${e.addresses[0]!} is listed twice; the second is ignored` });
        continue;
      }
      seen.add(e.addresses[0]!);
      workloads.push(endpointWorkload(svc, slice, e, key, ports, opts));
    }
  }
  const pods = new Map<string, PortMapping[]>();
  for (const [pod, mapped] of podPorts) {
    const list: PortMapping[] = [];
    for (const sp of svc.spec.ports) {
      const target = sp.protocol === 'TCP' ? mapped.get(sp.port) : undefined;
      if (target !== undefined) list.push({ servicePort: sp.port, targetPort: target });
    }
    pods.set(pod, list);
  }
  return { serviceKey: key, pods, podRefs: [...podRefs], workloads, warnings };
}
