// The decoded, validated shapes of Gateway API resources Ambit reads (gateway.networking.k8s.io
// v1 Gateway and HTTPRoute). Field names follow apis/v1; defaults the API server would fill in
// are filled in by the decoder, durations are whole milliseconds.
import type { ObjectMeta } from './resources.js';

export interface RouteGroupKind {
  readonly group: string;
  readonly kind: string;
}

export interface AllowedRoutes {
  readonly namespaces: { readonly from: 'All' | 'Same' | 'Selector'; readonly selector?: Readonly<Record<string, string>> };
  readonly kinds: readonly RouteGroupKind[];
}

export interface Listener {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly hostname?: string;
  readonly allowedRoutes: AllowedRoutes;
}

export interface GatewayAddress {
  readonly type: string;
  readonly value: string;
}

export interface GatewayResource {
  readonly kind: 'Gateway';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly gatewayClassName: string;
    readonly listeners: readonly Listener[];
    readonly addresses: readonly GatewayAddress[];
  };
}

export interface ParentReference {
  /** "gateway.networking.k8s.io" for Gateway, "" (core) for Service. */
  readonly group: string;
  readonly kind: 'Gateway' | 'Service';
  readonly name: string;
  readonly namespace?: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface BackendObjectReference {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
}

export interface BackendRef extends BackendObjectReference {
  /** Relative, 0..1,000,000, default 1. */
  readonly weight: number;
}

/** Regular expressions are kept as text; their dialect is implementation-specific (Ambit: RE2). */
export interface HTTPPathMatch {
  readonly type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  readonly value: string;
}

export interface HTTPValueMatch {
  readonly type: 'Exact' | 'RegularExpression';
  readonly name: string;
  readonly value: string;
}

export interface HTTPRouteMatch {
  readonly path: HTTPPathMatch;
  readonly headers: readonly HTTPValueMatch[];
  readonly queryParams: readonly HTTPValueMatch[];
  readonly method?: string;
}

export interface HTTPHeader {
  readonly name: string;
  readonly value: string;
}

export interface HTTPHeaderFilter {
  readonly set: readonly HTTPHeader[];
  readonly add: readonly HTTPHeader[];
  readonly remove: readonly string[];
}

export type HTTPPathModifier =
  | { readonly type: 'ReplaceFullPath'; readonly replaceFullPath: string }
  | { readonly type: 'ReplacePrefixMatch'; readonly replacePrefixMatch: string };

export type HTTPRouteFilter =
  | { readonly type: 'RequestHeaderModifier'; readonly requestHeaderModifier: HTTPHeaderFilter }
  | { readonly type: 'ResponseHeaderModifier'; readonly responseHeaderModifier: HTTPHeaderFilter }
  | {
      readonly type: 'RequestRedirect';
      readonly requestRedirect: {
        readonly scheme?: 'http' | 'https';
        readonly hostname?: string;
        readonly path?: HTTPPathModifier;
        readonly port?: number;
        readonly statusCode: 301 | 302 | 303 | 307 | 308;
      };
    }
  | { readonly type: 'URLRewrite'; readonly urlRewrite: { readonly hostname?: string; readonly path?: HTTPPathModifier } }
  | {
      readonly type: 'RequestMirror';
      /** `fraction` is numerator/denominator; absent both: every request is mirrored. */
      readonly requestMirror: { readonly backendRef: BackendObjectReference; readonly percent?: number; readonly fraction?: { readonly numerator: number; readonly denominator: number } };
    };

export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches: readonly HTTPRouteMatch[];
  readonly filters: readonly HTTPRouteFilter[];
  readonly backendRefs: readonly BackendRef[];
  /** 0 disables the timeout (GEP-1742). */
  readonly timeouts?: { readonly requestMs?: number; readonly backendRequestMs?: number };
  /** GEP-1731 (experimental channel). */
  readonly retry?: { readonly codes: readonly number[]; readonly attempts?: number; readonly backoffMs?: number };
}

export interface HTTPRouteResource {
  readonly kind: 'HTTPRoute';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly parentRefs: readonly ParentReference[];
    readonly hostnames: readonly string[];
    readonly rules: readonly HTTPRouteRule[];
  };
}

export type GatewayApiResource = GatewayResource | HTTPRouteResource;
