// evaluateHttp(): the waypoint's L7 authorization of one request against the
// AuthorizationPolicies attached to it (waypoint-policies.ts) — the same matcher and combination
// as ztunnel's evaluate() (rule-match.ts, decide.ts), with every L7 attribute visible
// (facts §6.2–6.3; https://istio.io/latest/docs/reference/config/security/authorization-policy/).
// DENY first, no ALLOW → allow, any ALLOW → allow, else deny. AUDIT never decides; the AUDIT
// policies that match are listed in `audit`. Dry-run (istio.io/dry-run) is evaluated and reported
// only. CUSTOM (ext_authz) is not supported: its policy denies what its rules match, as Envoy's
// ext_authz filter does when its server cannot be reached (failure_mode_allow false) — fail closed.
import type { Authorization } from '../config/compile-authorization.js';
import type { AuthorizationPolicyResource } from '../config/security-resources.js';
import type { RequestHead } from '../http/request-head.js';
import { decide, type AuthzDecision, type DryRunResult } from './decide.js';
import { normalizePath, type PathNormalization } from './normalize-path.js';
import type { RequestAuth } from './request-auth.js';
import { matchRule, type AuthzAttributes, type L4Connection } from './rule-match.js';

export interface HttpRequest extends L4Connection {
  readonly http: RequestHead;
  /** The JWT RequestAuthentication validated, if any. */
  readonly auth?: RequestAuth;
  /**
   * `remote.ip` / remoteIpBlocks. Istio takes it from X-Forwarded-For per numTrustedProxies,
   * default 0: the direct peer. Absent → `sourceIp` (the client from HBONE `forwarded: for=`).
   */
  readonly remoteIp?: string;
}

export type HttpAuthzDecision = (
  | AuthzDecision
  /** The path cannot be normalized: the waypoint answers 400 before authorization (check-request-head.ts). */
  | { readonly allowed: false; readonly reason: 'invalid_path'; readonly detail: string; readonly policy?: undefined; readonly dryRun: readonly DryRunResult[] }
) & {
  /** `namespace/name` of each AUDIT policy that matched (Istio marks the request for audit). */
  readonly audit: readonly string[];
};

/** An attached policy as the shared evaluator reads it; CUSTOM becomes DENY (see above). */
export function waypointAuthorization(p: AuthorizationPolicyResource): Authorization {
  return {
    name: `${p.meta.namespace}/${p.meta.name}`,
    namespace: p.meta.namespace,
    scope: 'WORKLOAD_SELECTOR',
    action: p.spec.action === 'CUSTOM' ? 'DENY' : p.spec.action,
    // At the waypoint every field is visible: no rule needs more than it has.
    rules: p.spec.rules.map((rule) => ({ rule, needsL7: false })),
    dryRun: p.spec.dryRun,
  };
}

function policyMatches(p: Authorization, a: AuthzAttributes): boolean {
  const action = p.action === 'DENY' ? 'DENY' : 'ALLOW';
  return p.rules.some((r) => matchRule(r.rule, r.needsL7, action, a, p.namespace));
}

export function evaluateHttp(policies: readonly AuthorizationPolicyResource[], req: HttpRequest, normalization?: PathNormalization): HttpAuthzDecision {
  return evaluateHttpAuthorizations(policies.map(waypointAuthorization), req, normalization);
}

/** evaluateHttp() over policies already converted with waypointAuthorization() (once per config change). */
export function evaluateHttpAuthorizations(authorizations: readonly Authorization[], req: HttpRequest, normalization?: PathNormalization): HttpAuthzDecision {
  const normalized = normalizePath(req.http.path, normalization);
  if ('error' in normalized) return { allowed: false, reason: 'invalid_path', detail: normalized.error, dryRun: [], audit: [] };
  const attrs: AuthzAttributes = {
    ...(req.sourceIdentity ? { sourceIdentity: req.sourceIdentity } : {}),
    sourceIp: req.sourceIp,
    destinationIp: req.destinationIp,
    destinationPort: req.destinationPort,
    http: {
      method: req.http.method,
      path: normalized.path,
      host: req.http.authority,
      headers: req.http.headers,
      remoteIp: req.remoteIp ?? req.sourceIp,
      ...(req.auth ? { auth: req.auth } : {}),
    },
  };
  const memo = new Map<Authorization, boolean>();
  const matches = (p: Authorization): boolean => {
    let m = memo.get(p);
    if (m === undefined) memo.set(p, (m = policyMatches(p, attrs)));
    return m;
  };
  const audit = authorizations.filter((p) => p.action === 'AUDIT' && matches(p)).map((p) => p.name);
  return { ...decide(authorizations, matches), audit };
}
