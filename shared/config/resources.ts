// The decoded, validated shapes of the Kubernetes core resources Ambit reads. Decoders
// (`core-decoders.ts`) produce these from untrusted YAML/JSON; the compiler reads only these.

export interface ObjectMeta {
  readonly name: string;
  /** Empty for cluster-scoped kinds (Namespace). */
  readonly namespace: string;
  readonly uid?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface NamespaceResource {
  readonly kind: 'Namespace';
  readonly meta: ObjectMeta;
}

export interface ServiceAccountResource {
  readonly kind: 'ServiceAccount';
  readonly meta: ObjectMeta;
}

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface PodResource {
  readonly kind: 'Pod';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly nodeName?: string;
    readonly serviceAccountName: string;
    readonly hostNetwork: boolean;
    readonly ports: readonly ContainerPort[];
  };
  readonly status: {
    readonly podIPs: readonly string[];
    readonly phase?: string;
    /** The Ready condition is True (file mode: true unless status says otherwise). */
    readonly ready: boolean;
  };
}

export interface ServicePort {
  readonly name?: string;
  readonly port: number;
  /** A number, or the name of a container port (resolved per pod). */
  readonly targetPort: number | string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol?: string;
}

export interface ServiceResource {
  readonly kind: 'Service';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
    /** Empty for headless services (clusterIP: None). */
    readonly clusterIPs: readonly string[];
    readonly headless: boolean;
    /** Absent: endpoints are managed elsewhere (EndpointSlices), not selected from pods. */
    readonly selector?: Readonly<Record<string, string>>;
    readonly ports: readonly ServicePort[];
  };
}

/** `discovery.k8s.io` EndpointSlice address families. FQDN is decoded but not modelled. */
export const AddressType = { IPv4: 'IPv4', IPv6: 'IPv6', Fqdn: 'FQDN' } as const;
export type AddressType = (typeof AddressType)[keyof typeof AddressType];

/** The label naming the Service an EndpointSlice belongs to. */
export const serviceNameLabel = 'kubernetes.io/service-name';

export interface SliceEndpoint {
  /** Validated for the slice's address type; at least one. */
  readonly addresses: readonly string[];
  /** Unset means ready (the Kubernetes API: "an unknown state should be interpreted as ready"). */
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
  /** Set only when the target is a Pod (namespace defaults to the slice's). */
  readonly targetPod?: { readonly namespace: string; readonly name: string };
  readonly nodeName?: string;
}

export interface SlicePort {
  /** Empty when the Service port has no name (a single-port Service). */
  readonly name: string;
  readonly port?: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly appProtocol?: string;
}

export interface EndpointSliceResource {
  readonly kind: 'EndpointSlice';
  readonly meta: ObjectMeta;
  readonly addressType: AddressType;
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports: readonly SlicePort[];
}

export type CoreResource = NamespaceResource | ServiceAccountResource | PodResource | ServiceResource | EndpointSliceResource;
