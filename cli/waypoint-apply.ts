// `ambit waypoint apply`: the waypoint Gateway for one service account (Istio's per-service-account
// waypoint: class istio-waypoint, annotation istio.io/for-service-account, listener mesh/15008/HBONE),
// printed as YAML or, with --apply, written through the Kubernetes API (server-side apply).
import type { Command } from 'commander';
import jsYaml from 'js-yaml';
import { forServiceAccountAnnotation, waypointGatewayClass, waypointListener } from '../shared/config/gateway-decoders.js';
import { waypointWorkloadName } from '../shared/config/compile-model.js';
import { dns1123Label, dns1123Subdomain } from '../shared/config/field-reader.js';

export interface WaypointGatewayRequest {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The Gateway's name; defaults to the service account's. */
  readonly name?: string;
}

export interface WaypointGateway {
  readonly apiVersion: 'gateway.networking.k8s.io/v1';
  readonly kind: 'Gateway';
  readonly metadata: { readonly name: string; readonly namespace: string; readonly annotations: Record<string, string> };
  readonly spec: { readonly gatewayClassName: string; readonly listeners: readonly { name: string; port: number; protocol: string }[] };
}

// The Gateway's workload is Service `<name>-istio-waypoint`: a DNS-1035 label of at most 63 characters.
const dns1035Label = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const maxGatewayName = 63 - waypointWorkloadName('').length;

/** The waypoint Gateway for a service account, or the reason the names cannot make one. */
export function buildWaypointGateway(req: WaypointGatewayRequest): { gateway: WaypointGateway } | { error: string } {
  if (!dns1123Label.test(req.namespace)) return { error: `namespace ${JSON.stringify(req.namespace)} is not a valid namespace name (DNS-1123 label)` };
  if (!dns1123Subdomain.test(req.serviceAccount)) return { error: `service account ${JSON.stringify(req.serviceAccount)} is not a valid name (DNS-1123 subdomain)` };
  const name = req.name ?? req.serviceAccount;
  if (!dns1035Label.test(name) || name.length > maxGatewayName) {
    const hint = req.name === undefined ? '; choose one with --name' : '';
    return { error: `gateway name ${JSON.stringify(name)} must be a DNS-1035 label of at most ${maxGatewayName} characters, so that ${waypointWorkloadName('<name>')} is a valid Service name${hint}` };
  }
  return {
    gateway: {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name, namespace: req.namespace, annotations: { [forServiceAccountAnnotation]: req.serviceAccount } },
      spec: { gatewayClassName: waypointGatewayClass, listeners: [{ ...waypointListener }] },
    },
  };
}

/** The Gateway as one YAML document, ready for `kubectl apply -f -`. */
export function formatWaypointGateway(gateway: WaypointGateway): string {
  return jsYaml.dump(gateway, { noRefs: true, lineWidth: -1 });
}

interface ApplyFlags {
  serviceAccount: string;
  namespace: string;
  name?: string;
  apply: boolean;
}

/** Registers `apply` under the `waypoint` command. */
export function registerWaypointApplyCommand(waypoint: Command): void {
  waypoint.command('apply')
    .description('print the waypoint Gateway of a service account (class istio-waypoint), or create/update it with --apply')
    .requiredOption('--service-account <name>', 'the service account whose traffic the waypoint handles')
    .requiredOption('-n, --namespace <namespace>', 'the service account\'s namespace')
    .option('--name <name>', 'the Gateway\'s name (default: the service account\'s)')
    .option('--apply', 'write it through the Kubernetes API (KUBECONFIG, ~/.kube/config or in-cluster) instead of printing it', false)
    .action(async (o: ApplyFlags) => {
      const built = buildWaypointGateway({ namespace: o.namespace, serviceAccount: o.serviceAccount, ...(o.name !== undefined ? { name: o.name } : {}) });
      if ('error' in built) throw new Error(built.error);
      if (!o.apply) {
        process.stdout.write(formatWaypointGateway(built.gateway));
        return;
      }
      const { KubeConfig, KubernetesObjectApi, PatchStrategy } = await import('@kubernetes/client-node');
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromDefault();
      const api = KubernetesObjectApi.makeApiClient(kubeConfig);
      // Server-side apply creates the Gateway or updates the fields this manager owns.
      await api.patch({ ...built.gateway, metadata: { ...built.gateway.metadata } }, undefined, undefined, 'ambit', true, PatchStrategy.ServerSideApply);
      const { name, namespace } = built.gateway.metadata;
      process.stdout.write(`gateway.gateway.networking.k8s.io/${name} applied in ${namespace}: waypoint ${waypointWorkloadName(name)} for service account ${o.serviceAccount}\n`);
    });
}
