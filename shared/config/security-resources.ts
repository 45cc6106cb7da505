// The decoded, validated shapes of Istio's security kinds (security.istio.io/v1 and v1beta1):
// AuthorizationPolicy, PeerAuthentication, RequestAuthentication. Field names follow the Istio API
// (istio/api security/v1beta1/*.proto); `security-decoders.ts` produces these from untrusted input.
import type { Cidr } from './cidr.js';
import type { ObjectMeta } from './resources.js';

export const securityApiVersions = ['security.istio.io/v1', 'security.istio.io/v1beta1'] as const;

export interface WorkloadSelector {
  /** Empty selects every workload in the namespace (Istio warns; it does not reject). */
  readonly matchLabels: Readonly<Record<string, string>>;
}

/** istio.type.v1beta1.PolicyTargetReference; `group` is '' for core (Service). */
export interface PolicyTargetRef {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
  /** Only ever the policy's own namespace: Istio rejects cross-namespace references. */
  readonly namespace?: string;
}

export const authorizationActions = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;
export type AuthorizationAction = (typeof authorizationActions)[number];

/**
 * Rule.From.source. Every list is OR within itself and AND across lists; an empty list places no
 * constraint (proto3: an empty repeated field is the same as an unset one).
 */
export interface AuthorizationSource {
  readonly principals: readonly string[];
  readonly notPrincipals: readonly string[];
  readonly requestPrincipals: readonly string[];
  readonly notRequestPrincipals: readonly string[];
  readonly namespaces: readonly string[];
  readonly notNamespaces: readonly string[];
  /** `sa` (policy's namespace) or `ns/sa`; newer Istio API, cannot be mixed with namespaces/principals. */
  readonly serviceAccounts: readonly string[];
  readonly notServiceAccounts: readonly string[];
  readonly ipBlocks: readonly Cidr[];
  readonly notIpBlocks: readonly Cidr[];
  readonly remoteIpBlocks: readonly Cidr[];
  readonly notRemoteIpBlocks: readonly Cidr[];
}

/** Rule.To.operation. Ports are strings in the Istio API; here they are validated numbers. */
export interface AuthorizationOperation {
  readonly hosts: readonly string[];
  readonly notHosts: readonly string[];
  readonly ports: readonly number[];
  readonly notPorts: readonly number[];
  readonly methods: readonly string[];
  readonly notMethods: readonly string[];
  readonly paths: readonly string[];
  readonly notPaths: readonly string[];
}

/** Rule.when: `key` is one of Istio's condition keys (authz-fields.ts); values kept as written. */
export interface AuthorizationCondition {
  readonly key: string;
  readonly values: readonly string[];
  readonly notValues: readonly string[];
}

/**
 * One rule: matches when at least one `from`, at least one `to` and every `when` match. An empty
 * list places no constraint, so a rule with all three empty (`{}`) matches every request.
 */
export interface AuthorizationRule {
  readonly from: readonly AuthorizationSource[];
  readonly to: readonly AuthorizationOperation[];
  readonly when: readonly AuthorizationCondition[];
  /**
   * False when any part of the rule was bad (reported as a ConfigError). Its lists may then be
   * missing entries, so it must never be matched as written: an enforcer treats it as matching
   * nothing in ALLOW (fewer allows) and as matching everything in DENY (more denies), i.e. fails
   * closed either way.
   */
  readonly valid: boolean;
}

export interface AuthorizationPolicyResource {
  readonly kind: 'AuthorizationPolicy';
  readonly meta: ObjectMeta;
  readonly spec: {
    /** Absent with no targetRefs: the policy applies to the whole namespace (root namespace: mesh). */
    readonly selector?: WorkloadSelector;
    /** `targetRef` and `targetRefs` merged. Such policies bind to waypoints/gateways, never to ztunnel. */
    readonly targetRefs: readonly PolicyTargetRef[];
    readonly action: AuthorizationAction;
    /** provider.name, CUSTOM only. */
    readonly provider?: string;
    /** Empty: matches nothing, so an ALLOW policy with no rules allows nothing (denies all in scope). */
    readonly rules: readonly AuthorizationRule[];
    /** The `istio.io/dry-run` annotation: evaluate and log, never enforce. */
    readonly dryRun: boolean;
    /** False for CUSTOM: decoded for status and listing, not enforceable by Ambit. */
    readonly supported: boolean;
  };
}

export const mtlsModes = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] as const;
export type MtlsMode = (typeof mtlsModes)[number];

export interface PeerAuthenticationResource {
  readonly kind: 'PeerAuthentication';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly selector?: WorkloadSelector;
    /** UNSET inherits from the parent scope (namespace, then mesh root namespace). */
    readonly mtlsMode: MtlsMode;
    /** Workload port → mode; only allowed together with a non-empty selector. */
    readonly portLevelMtls: ReadonlyMap<number, MtlsMode>;
  };
}

export interface JwtHeader {
  readonly name: string;
  /** Stripped before decoding, e.g. `Bearer ` (with the space). */
  readonly prefix?: string;
}

export interface ClaimToHeader {
  readonly header: string;
  readonly claim: string;
}

export interface JwtRule {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri?: string;
  /** Inline JSON Web Key Set, as written. */
  readonly jwks?: string;
  readonly fromHeaders: readonly JwtHeader[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly outputPayloadToHeader?: string;
  readonly forwardOriginalToken: boolean;
  readonly outputClaimToHeaders: readonly ClaimToHeader[];
}

export interface RequestAuthenticationResource {
  readonly kind: 'RequestAuthentication';
  readonly meta: ObjectMeta;
  readonly spec: {
    readonly selector?: WorkloadSelector;
    readonly targetRefs: readonly PolicyTargetRef[];
    readonly jwtRules: readonly JwtRule[];
  };
}

export type SecurityResource = AuthorizationPolicyResource | PeerAuthenticationResource | RequestAuthenticationResource;
