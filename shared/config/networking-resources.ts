// The decoded, validated shapes of Istio's traffic resources (networking.istio.io VirtualService
// and DestinationRule) that Ambit's waypoint reads. Field names follow istio/api networking/v1;
// durations are whole milliseconds, percentages are 0..100 doubles.
import type { ObjectMeta } from './resources.js';

/** One of Istio's StringMatch forms. A regex is RE2 syntax and is kept as text, never compiled here. */
export interface StringMatch {
  readonly type: 'exact' | 'prefix' | 'regex';
  readonly value: string;
}

export interface HTTPMatchRequest {
  readonly name?: string;
  readonly uri?: StringMatch;
  readonly method?: StringMatch;
  readonly authority?: StringMatch;
  readonly headers: Readonly<Record<string, StringMatch>>;
  readonly queryParams: Readonly<Record<string, StringMatch>>;
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly ignoreUriCase: boolean;
}

export interface HeaderOperations {
  readonly set: Readonly<Record<string, string>>;
  readonly add: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

export interface Headers {
  readonly request?: HeaderOperations;
  readonly response?: HeaderOperations;
}

export interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port?: number;
}

export interface RouteDestination {
  readonly destination: Destination;
  /** Relative weight; a lone destination with no weight gets 100, others default to 0. */
  readonly weight: number;
}

export interface HTTPRouteDestination extends RouteDestination {
  readonly headers?: Headers;
}

export interface HTTPRedirect {
  readonly uri?: string;
  readonly authority?: string;
  readonly port?: number;
  readonly scheme?: 'http' | 'https';
  /** Istio's default is 301. */
  readonly redirectCode: number;
}

export interface HTTPRewrite {
  readonly uri?: string;
  readonly authority?: string;
}

export interface HTTPMirror {
  readonly destination: Destination;
  /** Absent: 100 % (Istio mirrors every request when mirrorPercentage is unset). */
  readonly percentage?: number;
}

export interface HTTPRetry {
  readonly attempts: number;
  readonly perTryTimeoutMs?: number;
  /** Envoy retry_on / retry-grpc-on policies, or bare status codes such as "503". */
  readonly retryOn: readonly string[];
}

export interface HTTPFaultInjection {
  /** `percentage` absent is left to the compiler (istio/api: unset means every request). */
  readonly delay?: { readonly fixedDelayMs: number; readonly percentage?: number };
  readonly abort?: ({ readonly httpStatus: number } | { readonly grpcStatus: string }) & { readonly percentage?: number };
}

export interface HTTPRoute {
  readonly name?: string;
  readonly match: readonly HTTPMatchRequest[];
  readonly route: readonly HTTPRouteDestination[];
  readonly redirect?: HTTPRedirect;
  readonly rewrite?: HTTPRewrite;
  readonly mirror?: HTTPMirror;
  readonly retries?: HTTPRetry;
  readonly timeoutMs?: number;
  readonly fault?: HTTPFaultInjection;
  readonly headers?: Headers;
}

export interface L4MatchAttributes {
  readonly port?: number;
  readonly destinationSubnets: readonly string[];
  readonly sourceLabels?: Readonly<Record<string, string>>;
}

export interface TCPRoute {
  readonly match: readonly L4MatchAttributes[];
  readonly route: readonly RouteDestination[];
}

export interface VirtualServiceResource {
  readonly kind: 'VirtualService';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly hosts: readonly string[];
    /** Empty means ["mesh"]. */
    readonly gateways: readonly string[];
    readonly http: readonly HTTPRoute[];
    readonly tcp: readonly TCPRoute[];
  };
}

export const simpleLoadBalancers = ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH'] as const;
export type SimpleLoadBalancer = (typeof simpleLoadBalancers)[number];

export type ConsistentHash =
  | { readonly httpHeaderName: string }
  | { readonly httpCookie: { readonly name: string; readonly path?: string; readonly ttlMs?: number } }
  | { readonly useSourceIp: true }
  | { readonly httpQueryParameterName: string };

export type LoadBalancerSettings = { readonly simple: SimpleLoadBalancer } | { readonly consistentHash: ConsistentHash };

export interface ConnectionPoolSettings {
  readonly tcp?: { readonly maxConnections?: number; readonly connectTimeoutMs?: number };
  readonly http?: {
    readonly http1MaxPendingRequests?: number;
    readonly http2MaxRequests?: number;
    readonly maxRequestsPerConnection?: number;
    readonly maxRetries?: number;
  };
}

/** Unset fields take Envoy's defaults at compile time (5 errors, 10s, 30s, 10 %). */
export interface OutlierDetection {
  readonly consecutive5xxErrors?: number;
  readonly consecutiveGatewayErrors?: number;
  readonly intervalMs?: number;
  readonly baseEjectionTimeMs?: number;
  readonly maxEjectionPercent?: number;
  readonly minHealthPercent?: number;
}

export interface TrafficPolicy {
  readonly loadBalancer?: LoadBalancerSettings;
  readonly connectionPool?: ConnectionPoolSettings;
  readonly outlierDetection?: OutlierDetection;
}

export interface Subset {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleResource {
  readonly kind: 'DestinationRule';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly host: string;
    readonly trafficPolicy?: TrafficPolicy;
    readonly subsets: readonly Subset[];
  };
}

export type NetworkingResource = VirtualServiceResource | DestinationRuleResource;
