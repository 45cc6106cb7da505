// What a waypoint decides from besides the workload model: the decoded, validated L7 resources
// (Istio's attached policies, routing and traffic policy). The control plane sends them to
// waypoints only; each waypoint compiles the parts that concern the services it fronts.
import type { GatewayResource, HTTPRouteResource } from './gateway-resources.js';
import type { DestinationRuleResource, VirtualServiceResource } from './networking-resources.js';
import type { AuthorizationPolicyResource, RequestAuthenticationResource } from './security-resources.js';

export type WaypointResource =
  | AuthorizationPolicyResource
  | RequestAuthenticationResource
  | VirtualServiceResource
  | DestinationRuleResource
  | HTTPRouteResource
  | GatewayResource;

export const waypointResourceKinds: ReadonlySet<string> = new Set([
  'AuthorizationPolicy',
  'RequestAuthentication',
  'VirtualService',
  'DestinationRule',
  'HTTPRoute',
  'Gateway',
]);

/** The L7 resources grouped by kind, as the waypoint's compilers read them. */
export interface WaypointResources {
  readonly authorizationPolicies: readonly AuthorizationPolicyResource[];
  readonly requestAuthentications: readonly RequestAuthenticationResource[];
  readonly virtualServices: readonly VirtualServiceResource[];
  readonly destinationRules: readonly DestinationRuleResource[];
  readonly httpRoutes: readonly HTTPRouteResource[];
  readonly gateways: readonly GatewayResource[];
}

export function groupWaypointResources(all: Iterable<WaypointResource>): WaypointResources {
  const out = {
    authorizationPolicies: [] as AuthorizationPolicyResource[],
    requestAuthentications: [] as RequestAuthenticationResource[],
    virtualServices: [] as VirtualServiceResource[],
    destinationRules: [] as DestinationRuleResource[],
    httpRoutes: [] as HTTPRouteResource[],
    gateways: [] as GatewayResource[],
  };
  for (const r of all) {
    switch (r.kind) {
      case 'AuthorizationPolicy': out.authorizationPolicies.push(r); break;
      case 'RequestAuthentication': out.requestAuthentications.push(r); break;
      case 'VirtualService': out.virtualServices.push(r); break;
      case 'DestinationRule': out.destinationRules.push(r); break;
      case 'HTTPRoute': out.httpRoutes.push(r); break;
      case 'Gateway': out.gateways.push(r); break;
    }
  }
  return out;
}
