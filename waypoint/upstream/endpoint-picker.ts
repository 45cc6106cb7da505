// EndpointPicker: chooses the endpoint of a backend (service, port, optional subset) for one
// attempt, by the DestinationRule loadBalancer, skipping unhealthy workloads, ejected hosts and
// (for retries) hosts already tried. Envoy semantics: load_balancing.html, panic threshold.
import type { LoadBalancerSettings } from '../../shared/config/networking-resources.js';
import type { Workload } from '../../shared/config/model.js';
import { buildHashKey, type HashRequestContext } from './hash-key.js';
import { HashRing, hash32 } from './hash-ring.js';
import type { OutlierView } from './outlier-detector.js';
import { randomIndex, type Random } from '../../shared/seeded-random.js';

export interface UpstreamEndpoint {
  /** The workload uid: the key for outlier detection, active requests and retry avoidance. */
  readonly key: string;
  readonly workload: Workload;
  readonly address: string;
  readonly targetPort: number;
}

export type PickResult =
  | { readonly ok: true; readonly endpoint: UpstreamEndpoint; /** Chosen in panic mode (ejected hosts included). */ readonly panic: boolean }
  /** The executor answers 503 with response flag UH. */
  | { readonly ok: false; readonly reason: 'no_healthy_upstream'; readonly responseFlag: 'UH' };

export interface PickInput {
  /** `namespace/hostname`, the key of Workload.services. */
  readonly serviceKey: string;
  readonly servicePort: number;
  /** The service's endpoints (ModelIndex.endpointsByService). */
  readonly endpoints: readonly Workload[];
  readonly subset?: { readonly name: string; readonly labels: Readonly<Record<string, string>> };
  /** Absent: ROUND_ROBIN (Istio's default). */
  readonly loadBalancer?: LoadBalancerSettings;
  /** For consistentHash; absent or without the key: a random host. */
  readonly request?: HashRequestContext;
  /** The cluster's outlier detector, when the DestinationRule sets outlierDetection. */
  readonly outlier?: OutlierView;
  /** In-flight requests per endpoint key, for LEAST_REQUEST (ActiveRequests.count). */
  readonly activeRequests?: (endpointKey: string) => number;
  /** Endpoint keys of earlier attempts: avoided while any other candidate is left (previous_hosts). */
  readonly avoid?: ReadonlySet<string>;
}

/** Istio's cluster name shape `outbound|port|subset|host`, with the service key as host. */
export function upstreamClusterKey(serviceKey: string, servicePort: number, subsetName?: string): string {
  return `outbound|${servicePort}|${subsetName ?? ''}|${serviceKey}`;
}

/**
 * The endpoints that can serve `servicePort` of the service: HEALTHY (Istio sends no not-ready
 * endpoints to proxies by default), with a port mapping for it, an address, and the subset's labels.
 */
export function eligibleEndpoints(input: Pick<PickInput, 'serviceKey' | 'servicePort' | 'endpoints' | 'subset'>): UpstreamEndpoint[] {
  const out: UpstreamEndpoint[] = [];
  const labels = input.subset ? Object.entries(input.subset.labels) : [];
  for (const workload of input.endpoints) {
    if (workload.status !== 'HEALTHY') continue;
    const address = workload.addresses[0];
    if (address === undefined) continue;
    const mapping = workload.services[input.serviceKey]?.find((m) => m.servicePort === input.servicePort);
    if (!mapping || !(mapping.targetPort > 0)) continue;
    if (!labels.every(([k, v]) => workload.labels[k] === v)) continue;
    out.push({ key: workload.uid, workload, address, targetPort: mapping.targetPort });
  }
  return out;
}

const noHealthyUpstream: PickResult = { ok: false, reason: 'no_healthy_upstream', responseFlag: 'UH' };

export class EndpointPicker {
  private readonly random: Random;
  private readonly cursors = new Map<string, number>();
  private readonly rings = new Map<string, { signature: string; ring: HashRing }>();

  constructor(options: { random?: Random } = {}) {
    this.random = options.random ?? Math.random;
  }

  pick(input: PickInput): PickResult {
    const eligible = eligibleEndpoints(input);
    if (eligible.length === 0) return noHealthyUpstream;
    let candidates = eligible;
    let panic = false;
    if (input.outlier) {
      const { outlier } = input;
      const available = eligible.filter((e) => !outlier.isEjected(e.key));
      // Envoy's healthy panic threshold (Istio sets it to minHealthPercent, default 0 = never):
      // below it, load-balance over every host, ejected or not.
      if (available.length * 100 < outlier.minHealthPercent * eligible.length) panic = true;
      else if (available.length === 0) return noHealthyUpstream;
      else candidates = available;
    }
    if (input.avoid && input.avoid.size > 0) {
      const fresh = candidates.filter((e) => !input.avoid!.has(e.key));
      if (fresh.length > 0) candidates = fresh;
    }
    const cluster = upstreamClusterKey(input.serviceKey, input.servicePort, input.subset?.name);
    const endpoint = this.choose(cluster, candidates, input);
    return { ok: true, endpoint, panic };
  }

  /** Forgets cursors and rings of clusters not in `live` (call after a config or model update). */
  retain(live: ReadonlySet<string>): void {
    for (const key of this.cursors.keys()) if (!live.has(key)) this.cursors.delete(key);
    for (const key of this.rings.keys()) if (!live.has(key)) this.rings.delete(key);
  }

  private choose(cluster: string, candidates: readonly UpstreamEndpoint[], input: PickInput): UpstreamEndpoint {
    const lb = input.loadBalancer;
    if (lb && 'consistentHash' in lb) {
      const key = input.request ? buildHashKey(lb.consistentHash, input.request) : undefined;
      if (key !== undefined) return this.byHash(cluster, candidates, key);
      return candidates[randomIndex(this.random, candidates.length)]!;
    }
    switch (lb?.simple) {
      case 'RANDOM':
        return candidates[randomIndex(this.random, candidates.length)]!;
      case 'LEAST_REQUEST':
        return this.leastRequest(candidates, input.activeRequests);
      // PASSTHROUGH (original destination) has no meaning behind a waypoint's VIP routing: round robin.
      default:
        return this.roundRobin(cluster, candidates);
    }
  }

  private roundRobin(cluster: string, candidates: readonly UpstreamEndpoint[]): UpstreamEndpoint {
    const cursor = this.cursors.get(cluster) ?? 0;
    this.cursors.set(cluster, (cursor + 1) % 1_000_000_007);
    return candidates[cursor % candidates.length]!;
  }

  // Envoy LEAST_REQUEST with equal weights: power of two choices, sampled with replacement
  // (choice_count 2); the first sample wins ties.
  private leastRequest(candidates: readonly UpstreamEndpoint[], active: ((key: string) => number) | undefined): UpstreamEndpoint {
    const first = candidates[randomIndex(this.random, candidates.length)]!;
    const second = candidates[randomIndex(this.random, candidates.length)]!;
    if (!active) return first;
    return active(second.key) < active(first.key) ? second : first;
  }

  private byHash(cluster: string, candidates: readonly UpstreamEndpoint[], key: string): UpstreamEndpoint {
    const hosts = candidates.map((c) => c.key).sort();
    const signature = hosts.join('\n');
    let cached = this.rings.get(cluster);
    if (!cached || cached.signature !== signature) {
      cached = { signature, ring: HashRing.build(hosts) };
      this.rings.set(cluster, cached);
    }
    const owner = cached.ring.lookup(hash32(key));
    return candidates.find((c) => c.key === owner) ?? candidates[0]!;
  }
}
