// The compiled routing table of one destination Service: ordered entries (first match wins), the
// actions they lead to, and the backends those actions send to. Built by route-table.ts, read by
// route-plan.ts; plain data except for compiled RegExps.
import type { TrafficPolicy } from '../../shared/config/networking-resources.js';
import type { HeaderOps } from './header-ops.js';
import type { TokenBucketSpec } from './rate-limit-annotation.js';
import type { RequestMatcher } from './route-match.js';

export interface Backend {
  /** `namespace/hostname` of the destination Service. */
  readonly service: string;
  /** Service port; absent: the port the request came in on. */
  readonly port?: number;
  readonly subset?: string;
  /** The subset's labels, which endpoints must carry. */
  readonly labels?: Readonly<Record<string, string>>;
  /** The DestinationRule policy for this host, with the subset's policy merged over it. */
  readonly trafficPolicy?: TrafficPolicy;
}

export type WeightedBackend =
  | { readonly weight: number; readonly backend: Backend; readonly requestHeaderOps?: HeaderOps; readonly responseHeaderOps?: HeaderOps }
  /** A backend that cannot be used: a share of `weight` answers `status` (Gateway API: 500; Envoy unknown cluster: 503). */
  | { readonly weight: number; readonly invalid: { readonly status: number; readonly reason: string } };

export interface RetrySpec {
  /** Retries after the first try. */
  readonly attempts: number;
  /** Envoy retry_on conditions (5xx, gateway-error, connect-failure, retriable-4xx, reset, refused-stream, ...). */
  readonly retryOn: readonly string[];
  /** Status codes retried under `retriable-status-codes`. */
  readonly retriableStatusCodes: readonly number[];
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export interface MirrorSpec {
  readonly backend: Backend;
  /** 0..100. */
  readonly percentage: number;
}

export interface FaultSpec {
  readonly delay?: { readonly delayMs: number; readonly percentage: number };
  readonly abort?: ({ readonly httpStatus: number } | { readonly grpcStatus: string }) & { readonly percentage: number };
}

/** Where a path rewrite or redirect takes the path. */
export type PathChange =
  | { readonly kind: 'full'; readonly path: string }
  /** Replace the matched prefix; `segments` for Gateway API (whole path elements), plain string for Istio. */
  | { readonly kind: 'prefix'; readonly replacement: string; readonly segments: boolean };

export interface RateLimitSpec extends TokenBucketSpec {
  /** Unique per route rule: one bucket per key. */
  readonly key: string;
}

export type RuleAction =
  | {
      readonly kind: 'forward';
      readonly backends: readonly WeightedBackend[];
      readonly requestHeaderOps: HeaderOps;
      readonly responseHeaderOps: HeaderOps;
      readonly rewrite?: { readonly authority?: string; readonly path?: PathChange };
      readonly timeoutMs?: number;
      readonly perTryTimeoutMs?: number;
      readonly retry?: RetrySpec;
      readonly fault?: FaultSpec;
      readonly mirrors: readonly MirrorSpec[];
    }
  | {
      readonly kind: 'redirect';
      readonly status: number;
      readonly scheme?: 'http' | 'https';
      readonly hostname?: string;
      readonly port?: number;
      readonly path?: PathChange;
    }
  | { readonly kind: 'direct'; readonly status: number; readonly reason: string };

export interface CompiledRule {
  /** Stable name for logs and metrics: `HTTPRoute/ns/name/<rule name or index>`. */
  readonly name: string;
  readonly action: RuleAction;
  readonly rateLimit?: RateLimitSpec;
}

export interface RouteEntry {
  readonly matcher: RequestMatcher;
  readonly rule: CompiledRule;
}

export interface ServiceRoutes {
  /** `namespace/hostname`. */
  readonly service: string;
  readonly source: 'HTTPRoute' | 'VirtualService' | 'default';
  /** Ordered: the first entry whose matcher matches decides. */
  readonly entries: readonly RouteEntry[];
  /**
   * GEP-1426 consumer routes, by client namespace: clients from that namespace use these entries
   * instead of `entries` (the producer routes).
   */
  readonly consumerEntries: ReadonlyMap<string, readonly RouteEntry[]>;
}
