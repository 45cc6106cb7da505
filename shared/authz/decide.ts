// decide(): Istio's combination of policy results (facts §2.6), shared by ztunnel and the
// waypoint: any matching DENY denies; no ALLOW policy allows; any matching ALLOW allows; else deny.
// Dry-run policies are evaluated and reported, never enforced; AUDIT never decides.
import type { Authorization } from '../config/compile-authorization.js';

export interface DryRunResult {
  readonly policy: string;
  readonly action: 'ALLOW' | 'DENY';
  readonly matched: boolean;
}

export type AuthzDecision =
  | { readonly allowed: true; readonly policy?: string; readonly dryRun: readonly DryRunResult[] }
  | { readonly allowed: false; readonly reason: 'explicitly_denied' | 'not_allowed'; readonly policy?: string; readonly dryRun: readonly DryRunResult[] };

/** The decision over `policies`, given whether each one matches (asked at most once per policy). */
export function decide(policies: readonly Authorization[], matches: (p: Authorization) => boolean): AuthzDecision {
  const dryRun: DryRunResult[] = [];
  const enforced = policies.filter((p) => {
    if (p.action === 'AUDIT') return false;
    if (p.dryRun) dryRun.push({ policy: p.name, action: p.action, matched: matches(p) });
    return !p.dryRun;
  });
  const denied = enforced.find((p) => p.action === 'DENY' && matches(p));
  if (denied) return { allowed: false, reason: 'explicitly_denied', policy: denied.name, dryRun };
  const allows = enforced.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) return { allowed: true, dryRun };
  const allowed = allows.find((p) => matches(p));
  return allowed ? { allowed: true, policy: allowed.name, dryRun } : { allowed: false, reason: 'not_allowed', dryRun };
}
