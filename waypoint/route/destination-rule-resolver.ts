// DestinationRule resolution for a backend: which rule applies to a Service (exact host before
// wildcard, the longest wildcard first, then the rule in the Service's own namespace, then
// namespace/name order) and the traffic policy and subset labels it gives a destination.
import type { ConfigError } from '../../shared/config/config-error.js';
import { serviceKey } from '../../shared/config/model.js';
import type { DestinationRuleResource, TrafficPolicy } from '../../shared/config/networking-resources.js';
import { compareText, type ServiceLookup } from './service-lookup.js';

export type ResolvedDestination =
  | { readonly labels?: Readonly<Record<string, string>>; readonly trafficPolicy?: TrafficPolicy }
  | { readonly error: string };

interface Candidate {
  readonly rule: DestinationRuleResource;
  readonly slack: number;
  readonly sameNamespace: boolean;
}

/**
 * Istio merges a subset's trafficPolicy over the top-level one field by field (loadBalancer,
 * connectionPool, outlierDetection each replaced whole when the subset sets it: MergeTrafficPolicy).
 */
export function mergeTrafficPolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined): TrafficPolicy | undefined {
  if (!subset) return top;
  if (!top) return subset;
  return {
    ...top,
    ...(subset.loadBalancer ? { loadBalancer: subset.loadBalancer } : {}),
    ...(subset.connectionPool ? { connectionPool: subset.connectionPool } : {}),
    ...(subset.outlierDetection ? { outlierDetection: subset.outlierDetection } : {}),
  };
}

export class DestinationRuleResolver {
  private readonly byService = new Map<string, DestinationRuleResource>();

  constructor(rules: readonly DestinationRuleResource[], lookup: ServiceLookup, warnings: ConfigError[]) {
    const candidates = new Map<string, Candidate[]>();
    for (const rule of rules) {
      const { services, wildcardSlack } = lookup.resolveHost(rule.spec.host, rule.meta.namespace);
      for (const s of services) {
        const key = serviceKey(s);
        const list = candidates.get(key) ?? [];
        list.push({ rule, slack: wildcardSlack, sameNamespace: rule.meta.namespace === s.namespace });
        candidates.set(key, list);
      }
    }
    for (const [key, list] of candidates) {
      list.sort((a, b) => a.slack - b.slack || Number(b.sameNamespace) - Number(a.sameNamespace) || compareText(ruleId(a.rule), ruleId(b.rule)));
      const [winner, ...shadowed] = list;
      if (!winner) continue;
      this.byService.set(key, winner.rule);
      for (const s of shadowed.filter((c) => c.slack === winner.slack)) {
        warnings.push({
          source: 'waypoint/route', kind: 'DestinationRule', namespace: s.rule.meta.namespace, name: s.rule.meta.name, path: 'spec.host',
          reason: `ignored for ${key}: DestinationRule ${ruleId(winner.rule)} also names it and takes precedence`,
        });
      }
    }
  }

  /** The DestinationRule that applies to a service, if any. */
  ruleFor(service: string): DestinationRuleResource | undefined {
    return this.byService.get(service);
  }

  /**
   * The policy and labels for a destination. `port` is accepted for portLevelSettings, which the
   * shared decoder does not decode yet (it reports them as unsupported), so it is unused for now.
   */
  resolve(service: string, _port: number | undefined, subset?: string): ResolvedDestination {
    const rule = this.byService.get(service);
    const top = rule?.spec.trafficPolicy;
    if (subset === undefined) return top ? { trafficPolicy: top } : {};
    const found = rule?.spec.subsets.find((s) => s.name === subset);
    if (!rule || !found) return { error: `subset ${JSON.stringify(subset)} is not defined by a DestinationRule for ${service}` };
    const trafficPolicy = mergeTrafficPolicy(top, found.trafficPolicy);
    return { labels: { ...found.labels }, ...(trafficPolicy ? { trafficPolicy } : {}) };
  }
}

function ruleId(r: DestinationRuleResource): string {
  return `${r.meta.namespace}/${r.meta.name}`;
}
