// UpstreamSelector: the waypoint's runtime upstream state across requests and config changes,
// over the deciders in upstream/: endpoint choice per backend (DestinationRule loadBalancer,
// subsets, retries avoiding hosts already tried, panic threshold), least-request counts, outlier
// detection, circuit breakers (503 UO), retry policies with Envoy's jittered back-off, and the
// local rate-limit buckets.
import { systemClock, type Clock } from '../shared/clock.js';
import type { ModelIndex } from '../shared/config/model-index.js';
import type { RequestHead } from '../shared/http/request-head.js';
import type { Admission, ForwardPlan } from './forwarder.js';
import { HboneHttpUpstream, type Endpoint } from './hbone-http-upstream.js';
import type { AbortLike } from './client-gone.js';
import type { Backend } from './l7-config.js';
import { ActiveRequests } from './upstream/active-requests.js';
import { CircuitBreakerSet } from './upstream/circuit-breaker.js';
import { EndpointPicker, upstreamClusterKey } from './upstream/endpoint-picker.js';
import { hashContextFromHead } from './upstream/hash-key.js';
import { OutlierDetectorSet } from './upstream/outlier-detector-set.js';
import { backoffMs, buildRetryPolicy, shouldRetry, type AttemptOutcome } from './upstream/retry-policy.js';
import type { RetrySpec } from './route/service-routes.js';
import { TokenBucket } from './upstream/token-bucket.js';
import type { Random } from '../shared/seeded-random.js';

export interface UpstreamSelectorOptions {
  readonly random: Random;
  readonly clock?: Clock;
}

export interface RateLimit {
  readonly key: string;
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

const serviceKeyOf = (b: Backend): string | undefined => (b.service ? `${b.service.namespace}/${b.service.hostname}` : undefined);

/** The Envoy-style cluster of a backend: `outbound|port|subset|ns/host`, or the pod for pod-addressed traffic. */
export function clusterKeyOf(b: Backend): string {
  const svc = serviceKeyOf(b);
  return svc ? upstreamClusterKey(svc, b.port, b.subset) : `pod|${b.workload?.uid ?? '?'}|${b.port}`;
}

export class UpstreamSelector {
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly picker: EndpointPicker;
  private readonly active = new ActiveRequests();
  private readonly outliers: OutlierDetectorSet;
  private readonly breakers = new CircuitBreakerSet();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly retryPolicies = new WeakMap<RetrySpec, NonNullable<ForwardPlan['retry']>>();
  /** Requests waiting for a connection, per cluster (each tries to take one; false: still none free). */
  private readonly pending = new Map<string, (() => boolean)[]>();

  constructor(opts: UpstreamSelectorOptions) {
    this.random = opts.random;
    this.clock = opts.clock ?? systemClock;
    this.picker = new EndpointPicker({ random: opts.random });
    this.outliers = new OutlierDetectorSet(this.clock);
  }

  pick(index: ModelIndex, b: Backend, avoid: ReadonlySet<string>, head: RequestHead | undefined, clientIp?: string): { endpoint: Endpoint } | { none: string } {
    if (b.workload) {
      const ip = b.workload.addresses[0];
      return ip && b.workload.status === 'HEALTHY' ? { endpoint: { workload: b.workload, ip, port: b.port } } : { none: 'no_healthy_upstream' };
    }
    const serviceKey = serviceKeyOf(b);
    if (!serviceKey) return { none: 'no_healthy_upstream' };
    const endpoints = index.endpointsByService.get(serviceKey) ?? [];
    const tp = b.trafficPolicy;
    const outlier = this.outliers.forCluster(clusterKeyOf(b), tp?.outlierDetection, endpoints.map((w) => w.uid));
    const lb = tp?.loadBalancer;
    const result = this.picker.pick({
      serviceKey,
      servicePort: b.port,
      endpoints,
      ...(b.subset && b.labels ? { subset: { name: b.subset, labels: b.labels } } : {}),
      ...(lb ? { loadBalancer: lb } : {}),
      ...(head && lb && 'consistentHash' in lb ? { request: hashContextFromHead(head, clientIp) } : {}),
      ...(outlier ? { outlier } : {}),
      activeRequests: this.active.count,
      avoid,
    });
    if (!result.ok) return { none: result.reason };
    return { endpoint: { workload: result.endpoint.workload, ip: result.endpoint.address, port: result.endpoint.targetPort } };
  }

  /** One attempt to `ep` of backend `b` starts; the returned function records how it ended. */
  started(b: Backend, ep: Endpoint): (o: AttemptOutcome) => void {
    const handle = this.active.start(ep.workload.uid);
    return (o) => {
      handle.release();
      const detector = this.outliers.get(clusterKeyOf(b));
      if (!detector) return;
      if (o.kind === 'response') detector.record(ep.workload.uid, { status: o.status });
      else if (o.kind === 'connect-failure') detector.record(ep.workload.uid, { connectFailure: true });
      else if (o.kind === 'reset' || o.kind === 'per-try-timeout' || o.kind === 'refused-stream') detector.record(ep.workload.uid, { gatewayError: true });
    };
  }

  /** Circuit breakers of the backend's cluster for one retry (refused: stop retrying). */
  admit(b: Backend, kind: 'retry'): Admission {
    const a = this.breakers.forCluster(clusterKeyOf(b), b.trafficPolicy?.connectionPool).acquire(kind);
    return a.ok ? { ok: true, release: () => a.release() } : { ok: false };
  }

  /**
   * Admission of one request, Envoy's HTTP/1.1 pool semantics over the cluster's breakers: at most
   * maxRequests active (http2MaxRequests); each active request holds one connection
   * (tcp.maxConnections); beyond that it waits as pending (http1MaxPendingRequests) for a
   * connection to free; beyond that, overflow (503 UO).
   */
  admitRequest(b: Backend, gone?: AbortLike): Admission | Promise<Admission> {
    const key = clusterKeyOf(b);
    const breaker = this.breakers.forCluster(key, b.trafficPolicy?.connectionPool);
    const request = breaker.acquire('request');
    if (!request.ok) return { ok: false };
    const grant = (conn: { release(): void }): Admission => ({
      ok: true,
      release: () => {
        conn.release();
        request.release();
        this.wakePending(key);
      },
    });
    const conn = breaker.acquire('connection');
    if (conn.ok) return grant(conn);
    const pending = breaker.acquire('pending');
    if (!pending.ok) {
      request.release();
      return { ok: false };
    }
    return new Promise((resolve) => {
      const queue = this.pending.get(key) ?? [];
      this.pending.set(key, queue);
      const waiter = (): boolean => {
        const c = breaker.acquire('connection');
        if (!c.ok) return false;
        gone?.removeEventListener('abort', leave);
        pending.release();
        resolve(grant(c));
        return true;
      };
      // A client that goes away while queued leaves the queue and frees its pending slot.
      const leave = (): void => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        pending.release();
        request.release();
        resolve({ ok: false });
      };
      queue.push(waiter);
      gone?.addEventListener('abort', leave, { once: true });
    });
  }

  /** A connection of cluster `key` freed: the oldest pending request takes it. */
  private wakePending(key: string): void {
    const queue = this.pending.get(key);
    while (queue && queue.length > 0) {
      if (!queue[0]!()) return;
      queue.shift();
    }
    if (queue?.length === 0) this.pending.delete(key);
  }

  /**
   * A route's retry spec (route/) as the forwarder runs it: Envoy's retry_on and jittered back-off.
   * Built once per spec (specs are compiled with the route tables and replaced with them), not per
   * request: Istio's default retry policy applies to every route, so this is on the hot path.
   */
  retryPolicy(retry: RetrySpec): NonNullable<ForwardPlan['retry']> {
    let built = this.retryPolicies.get(retry);
    if (!built) {
      const { policy } = buildRetryPolicy(retry.retryOn, retry.retriableStatusCodes);
      built = {
        attempts: retry.attempts,
        shouldRetry: (o) => shouldRetry(policy, o),
        backoffMs: (n) => backoffMs(n, this.random, retry.backoffBaseMs, retry.backoffMaxMs),
      };
      this.retryPolicies.set(retry, built);
    }
    return built;
  }

  /** Local rate limit: a token from the rule's bucket (kept while its settings stay the same). */
  takeToken(limit: RateLimit): boolean {
    let bucket = this.buckets.get(limit.key);
    const s = bucket?.settings;
    if (!bucket || s?.maxTokens !== limit.maxTokens || s.tokensPerFill !== limit.tokensPerFill || s.fillIntervalMs !== limit.fillIntervalMs) {
      bucket = new TokenBucket({ maxTokens: limit.maxTokens, tokensPerFill: limit.tokensPerFill, fillIntervalMs: limit.fillIntervalMs }, this.clock);
      this.buckets.set(limit.key, bucket);
    }
    return bucket.take();
  }

  /** Endpoint keys (HboneHttpUpstream.key) of every workload still in the model. */
  liveKeys(index: ModelIndex): Set<string> {
    const keys = new Set<string>();
    for (const w of index.workloadByUid.values()) {
      const ip = w.addresses[0];
      if (!ip) continue;
      for (const mappings of Object.values(w.services)) for (const m of mappings) keys.add(HboneHttpUpstream.key({ workload: w, ip, port: m.targetPort }));
    }
    return keys;
  }

  close(): void {
    this.outliers.close();
  }
}
