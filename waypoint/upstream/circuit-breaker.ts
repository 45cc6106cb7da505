// CircuitBreaker: Envoy's per-cluster resource limits (cluster.CircuitBreakers.Thresholds) from a
// DestinationRule connectionPool: max connections, pending requests, active requests and
// concurrent retries. A refused acquire is an overflow: the executor answers 503 with response
// flag `UO` for requests and pending requests, and for retries simply stops retrying.
import type { ConnectionPoolSettings } from '../../shared/config/networking-resources.js';

export const ResourceKind = {
  Connection: 'connection',
  Pending: 'pending',
  Request: 'request',
  Retry: 'retry',
} as const;
export type ResourceKind = (typeof ResourceKind)[keyof typeof ResourceKind];

/**
 * Istio's default for every threshold (getDefaultCircuitBreakerThresholds: math.MaxUint32), not
 * Envoy's own 1024 / 1024 / 1024 / 3: Envoy's max_retries of 3 caused 503s during pod churn.
 */
export const unlimited = 4_294_967_295;

export interface CircuitBreakerLimits {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
  /** For the connection pool: close a connection after this many requests; 0 = no limit. */
  readonly maxRequestsPerConnection: number;
}

/**
 * The thresholds a connectionPool gives (Istio applyConnectionPool): tcp.maxConnections,
 * http.http1MaxPendingRequests, http.http2MaxRequests (all HTTP versions, despite the name) and
 * http.maxRetries; unset or 0 keeps Istio's unlimited default.
 */
export function resolveCircuitBreakerLimits(pool: ConnectionPoolSettings | undefined): CircuitBreakerLimits {
  const pick = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : unlimited);
  const perConnection = pool?.http?.maxRequestsPerConnection;
  return {
    maxConnections: pick(pool?.tcp?.maxConnections),
    maxPendingRequests: pick(pool?.http?.http1MaxPendingRequests),
    maxRequests: pick(pool?.http?.http2MaxRequests),
    maxRetries: pick(pool?.http?.maxRetries),
    maxRequestsPerConnection: perConnection !== undefined && perConnection > 0 ? Math.floor(perConnection) : 0,
  };
}

export type Admission =
  | { readonly ok: true; release(): void }
  | { readonly ok: false; readonly flag: 'UO'; readonly kind: ResourceKind };

export class CircuitBreaker {
  private limitsNow: CircuitBreakerLimits;
  private readonly active: Record<ResourceKind, number> = { connection: 0, pending: 0, request: 0, retry: 0 };

  constructor(limits: CircuitBreakerLimits) {
    this.limitsNow = limits;
  }

  get limits(): CircuitBreakerLimits {
    return this.limitsNow;
  }

  /** New limits apply to the next acquire; what is held stays held (and counted). */
  updateLimits(limits: CircuitBreakerLimits): void {
    this.limitsNow = limits;
  }

  /** Takes one unit of `kind` if under its limit. `release()` gives it back; a second call does nothing. */
  acquire(kind: ResourceKind): Admission {
    if (this.active[kind] >= this.limitFor(kind)) return { ok: false, flag: 'UO', kind };
    this.active[kind] += 1;
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.active[kind] -= 1;
      },
    };
  }

  /** Units of `kind` held now. */
  inUse(kind: ResourceKind): number {
    return this.active[kind];
  }

  private limitFor(kind: ResourceKind): number {
    switch (kind) {
      case 'connection': return this.limitsNow.maxConnections;
      case 'pending': return this.limitsNow.maxPendingRequests;
      case 'request': return this.limitsNow.maxRequests;
      case 'retry': return this.limitsNow.maxRetries;
    }
  }
}

/**
 * The breakers of every backend (Envoy cluster: service, port and subset, see upstreamClusterKey).
 * A config update keeps each breaker and its counts and swaps in the new limits.
 */
export class CircuitBreakerSet {
  private readonly breakers = new Map<string, CircuitBreaker>();

  /** The breaker for `clusterKey`, created or updated to the limits of `pool`. */
  forCluster(clusterKey: string, pool: ConnectionPoolSettings | undefined): CircuitBreaker {
    const limits = resolveCircuitBreakerLimits(pool);
    const existing = this.breakers.get(clusterKey);
    if (existing) {
      if (!sameLimits(existing.limits, limits)) existing.updateLimits(limits);
      return existing;
    }
    const created = new CircuitBreaker(limits);
    this.breakers.set(clusterKey, created);
    return created;
  }

  /** Drops the breakers of clusters not in `live` (those still held keep working for their holders). */
  retain(live: ReadonlySet<string>): void {
    for (const key of this.breakers.keys()) if (!live.has(key)) this.breakers.delete(key);
  }

  get size(): number {
    return this.breakers.size;
  }
}

function sameLimits(a: CircuitBreakerLimits, b: CircuitBreakerLimits): boolean {
  return a.maxConnections === b.maxConnections && a.maxPendingRequests === b.maxPendingRequests &&
    a.maxRequests === b.maxRequests && a.maxRetries === b.maxRetries && a.maxRequestsPerConnection === b.maxRequestsPerConnection;
}
