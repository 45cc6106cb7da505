// Plays the kubelet and the cluster's users against the test API server (no controller manager
// runs): creates Namespaces, ServiceAccounts, Nodes, Pods with a written status, Services, and
// installs the Istio and Gateway API CRDs that Ambit reads.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  loadYaml,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Namespace,
  type V1Node,
  type V1Pod,
  type V1Service,
  type V1ServiceAccount,
  type V1ServicePort,
} from '@kubernetes/client-node';
import jsYaml from 'js-yaml';

export async function createNamespace(kc: KubeConfig, name: string, labels: Record<string, string> = {}): Promise<V1Namespace> {
  return kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
}

/** Without kube-controller-manager there is no `default` ServiceAccount: tests create the ones they use. */
export async function createServiceAccount(kc: KubeConfig, namespace: string, name: string): Promise<V1ServiceAccount> {
  return kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace } } });
}

/** A Node whose status (written like a kubelet would) is Ready with `internalIP`. */
export async function createNode(kc: KubeConfig, name: string, opts: { internalIP: string; labels?: Record<string, string> }): Promise<V1Node> {
  const core = kc.makeApiClient(CoreV1Api);
  const node = await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...opts.labels } } } });
  node.status = {
    addresses: [
      { type: 'InternalIP', address: opts.internalIP },
      { type: 'Hostname', address: name },
    ],
    conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: new Date(), lastTransitionTime: new Date() }],
  };
  return core.replaceNodeStatus({ name, body: node });
}

export interface PodSpec {
  readonly namespace: string;
  readonly name: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly serviceAccountName?: string;
  readonly nodeName?: string;
  readonly containerPorts?: readonly number[];
  /** When set, the Pod's status is written at once: Running, Ready, this IP. */
  readonly podIP?: string;
}

/** Creates a Pod (one container; nothing runs it) and, given a podIP, plays the kubelet for it. */
export async function createPod(kc: KubeConfig, spec: PodSpec): Promise<V1Pod> {
  const pod = await kc.makeApiClient(CoreV1Api).createNamespacedPod({
    namespace: spec.namespace,
    body: {
      metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels, annotations: spec.annotations },
      spec: {
        serviceAccountName: spec.serviceAccountName,
        nodeName: spec.nodeName,
        containers: [{ name: 'app', image: 'example.invalid/app:1', ports: spec.containerPorts?.map((containerPort) => ({ containerPort })) }],
      },
    },
  });
  return spec.podIP === undefined ? pod : setPodStatus(kc, spec.namespace, spec.name, { podIP: spec.podIP });
}

/**
 * Writes a Pod's status through the status subresource (the kubelet's job): phase Running, the IP,
 * and the Ready condition. `ready: false` models a Pod whose readiness probe fails.
 */
export async function setPodStatus(kc: KubeConfig, namespace: string, name: string, opts: { podIP: string; ready?: boolean; hostIP?: string }): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ namespace, name });
  const ready = (opts.ready ?? true) ? 'True' : 'False';
  const now = new Date();
  pod.status = {
    phase: 'Running',
    podIP: opts.podIP,
    podIPs: [{ ip: opts.podIP }],
    hostIP: opts.hostIP,
    startTime: pod.status?.startTime ?? now,
    conditions: [
      { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
      { type: 'Initialized', status: 'True', lastTransitionTime: now },
      { type: 'ContainersReady', status: ready, lastTransitionTime: now },
      { type: 'Ready', status: ready, lastTransitionTime: now },
    ],
  };
  return core.replaceNamespacedPodStatus({ namespace, name, body: pod });
}

export interface ServiceSpec {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Record<string, string>;
  readonly ports: readonly V1ServicePort[];
  readonly labels?: Record<string, string>;
  /** Left to the API server (10.96.0.0/16) unless set; 'None' makes a headless Service. */
  readonly clusterIP?: string;
}

export async function createService(kc: KubeConfig, spec: ServiceSpec): Promise<V1Service> {
  return kc.makeApiClient(CoreV1Api).createNamespacedService({
    namespace: spec.namespace,
    body: {
      metadata: { name: spec.name, namespace: spec.namespace, labels: spec.labels },
      spec: { selector: spec.selector, ports: [...spec.ports], clusterIP: spec.clusterIP },
    },
  });
}

/** A namespaced custom kind, addressed the way CustomObjectsApi wants it. */
export interface CustomKind {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  /** Served versions; the first is the one the tests write. */
  readonly versions: readonly string[];
  readonly storageVersion: string;
}

const istioSecurity = ['v1', 'v1beta1'] as const;
const istioNetworking = ['v1', 'v1beta1', 'v1alpha3'] as const;
const gatewayApi = ['v1', 'v1beta1'] as const;

export const meshKinds = {
  AuthorizationPolicy: { group: 'security.istio.io', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', versions: istioSecurity, storageVersion: 'v1beta1' },
  PeerAuthentication: { group: 'security.istio.io', kind: 'PeerAuthentication', plural: 'peerauthentications', versions: istioSecurity, storageVersion: 'v1beta1' },
  RequestAuthentication: { group: 'security.istio.io', kind: 'RequestAuthentication', plural: 'requestauthentications', versions: istioSecurity, storageVersion: 'v1beta1' },
  VirtualService: { group: 'networking.istio.io', kind: 'VirtualService', plural: 'virtualservices', versions: istioNetworking, storageVersion: 'v1alpha3' },
  DestinationRule: { group: 'networking.istio.io', kind: 'DestinationRule', plural: 'destinationrules', versions: istioNetworking, storageVersion: 'v1alpha3' },
  Gateway: { group: 'gateway.networking.k8s.io', kind: 'Gateway', plural: 'gateways', versions: gatewayApi, storageVersion: 'v1' },
  HTTPRoute: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', plural: 'httproutes', versions: gatewayApi, storageVersion: 'v1' },
} as const satisfies Record<string, CustomKind>;

/**
 * The CRD for `k`: spec and status kept as written (x-kubernetes-preserve-unknown-fields), so the
 * API server checks nothing inside them, as with Istio's own CRDs before CEL. Goes through
 * loadYaml() because client-node's serializer drops the `x-kubernetes-*` keys of a plain object
 * (its model spells them `x_kubernetes_preserve_unknown_fields`), and the specs would come back empty.
 */
export function crdFor(k: CustomKind): V1CustomResourceDefinition {
  const schema = {
    type: 'object',
    properties: {
      spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${k.plural}.${k.group}`,
      // The API server refuses CRDs in *.k8s.io / *.kubernetes.io groups without this annotation
      // (KEP-1111); the value must be a URL (Gateway API's own CRDs name their approval PR).
      annotations: /(^|\.)(k8s|kubernetes)\.io$/.test(k.group) ? { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api' } : {},
    },
    spec: {
      group: k.group,
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.kind.toLowerCase() },
      scope: 'Namespaced',
      versions: k.versions.map((name) => ({
        name,
        served: true,
        storage: name === k.storageVersion,
        schema: { openAPIV3Schema: schema },
        subresources: { status: {} },
      })),
    },
  };
  return loadYaml<V1CustomResourceDefinition>(jsYaml.dump(crd));
}

/** Creates the CRDs (an existing one is left as it is) and waits until each is Established. */
export async function installMeshCrds(kc: KubeConfig, kinds: readonly CustomKind[] = Object.values(meshKinds), timeoutMs = 15_000): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const k of kinds) {
    try {
      await api.createCustomResourceDefinition({ body: crdFor(k) });
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
  const end = Date.now() + timeoutMs;
  for (const k of kinds) {
    const name = `${k.plural}.${k.group}`;
    for (;;) {
      const crd = await api.readCustomResourceDefinition({ name });
      if (crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > end) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
