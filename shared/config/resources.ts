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

export type CoreResource = NamespaceResource | ServiceAccountResource | PodResource | ServiceResource;
