// buildRouteTables: the waypoint's routing for every Service in the model, from HTTPRoutes (GAMMA),
// VirtualServices and DestinationRules. An HTTPRoute beats a VirtualService for the same Service
// (Istio: "HTTPRoute wins"), and a Service with neither gets a default route to itself.
import type { ConfigError } from '../../shared/config/config-error.js';
import type { ModelIndex } from '../../shared/config/model-index.js';
import type { WaypointResources } from '../../shared/config/waypoint-resources.js';
import { DestinationRuleResolver } from './destination-rule-resolver.js';
import { noHeaderOps } from './header-ops.js';
import { compileHTTPRoutes } from './http-route-compiler.js';
import { istioDefaultRetry } from './retry-policy.js';
import { matchEverything } from './route-match.js';
import type { RouteEntry, ServiceRoutes } from './service-routes.js';
import { ServiceLookup } from './service-lookup.js';
import { compileVirtualServices } from './virtual-service-compiler.js';

export interface RouteTables {
  /** Service key (`namespace/hostname`) → its routes; every Service in the model has an entry. */
  readonly tables: ReadonlyMap<string, ServiceRoutes>;
  /** Problems found while compiling; the rest of the config still applies. `source` is `waypoint/route`. */
  readonly warnings: readonly ConfigError[];
}

export function buildRouteTables(resources: WaypointResources, index: ModelIndex): RouteTables {
  const warnings: ConfigError[] = [];
  const lookup = new ServiceLookup(index);
  const drs = new DestinationRuleResolver(resources.destinationRules, lookup, warnings);
  const http = compileHTTPRoutes(resources.httpRoutes, lookup, drs, warnings);
  const vs = compileVirtualServices(resources.virtualServices, lookup, drs, warnings);
  const tables = new Map<string, ServiceRoutes>();
  for (const key of index.serviceByKey.keys()) {
    const producer = http.producer.get(key);
    const virtual = vs.byService.get(key);
    const consumerEntries = http.consumer.get(key) ?? new Map<string, RouteEntry[]>();
    if (producer && virtual) {
      warnings.push({
        source: 'waypoint/route', kind: 'VirtualService', namespace: virtual.id.split('/')[0] ?? '', name: virtual.id.split('/')[1] ?? '', path: 'spec.hosts',
        reason: `ignored for ${key}: HTTPRoute ${(http.routeNames.get(key) ?? []).join(', ')} routes the same Service, and an HTTPRoute wins over a VirtualService`,
      });
    }
    if (producer) tables.set(key, { service: key, source: 'HTTPRoute', entries: producer, consumerEntries });
    else if (virtual) tables.set(key, { service: key, source: 'VirtualService', entries: virtual.entries, consumerEntries });
    else tables.set(key, { service: key, source: 'default', entries: defaultEntries(key, drs), consumerEntries });
  }
  return { tables, warnings };
}

/** All requests to the Service itself on the port they came in on, with its DestinationRule and Istio's default retries. */
function defaultEntries(key: string, drs: DestinationRuleResolver): RouteEntry[] {
  const policy = drs.ruleFor(key)?.spec.trafficPolicy;
  return [{
    matcher: matchEverything,
    rule: {
      name: `default/${key}`,
      action: {
        kind: 'forward',
        backends: [{ weight: 1, backend: { service: key, ...(policy ? { trafficPolicy: policy } : {}) } }],
        requestHeaderOps: noHeaderOps,
        responseHeaderOps: noHeaderOps,
        mirrors: [],
        retry: istioDefaultRetry,
      },
    },
  }];
}
