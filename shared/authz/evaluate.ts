// evaluate(): L4 authorization of one connection against the Authorizations that apply to its
// destination workload — Istio's semantics (facts §2.6): any matching DENY denies; no ALLOW
// policy allows; any matching ALLOW allows; otherwise deny. Pure and synchronous; ztunnel calls
// it per connection and again when policy changes.
// Ambit fails closed where ztunnel cannot see L7: an ALLOW rule that needs L7 never matches; in a
// DENY rule the L7 constraints are dropped (so an L7-only DENY denies everything it selects,
// stricter than Istio, which ignores it). A rule the decoder flagged invalid never allows and
// always denies. Dry-run policies are evaluated and reported, never enforced; AUDIT is ignored.
// The matching (rule-match.ts) and the combination (decide.ts) are shared with evaluateHttp().
import type { Authorization, CompiledRule } from '../config/compile-authorization.js';
import { decide, type AuthzDecision } from './decide.js';
import { matchRule, type L4Connection } from './rule-match.js';

export type { AuthzDecision, DryRunResult } from './decide.js';
export type { L4Connection } from './rule-match.js';
export { stringMatches } from './string-match.js';

/** Whether `compiled` matches `conn` for a policy of `action`, with Ambit's fail-closed rules. */
export function ruleMatches(compiled: CompiledRule, action: 'ALLOW' | 'DENY', conn: L4Connection, policyNamespace: string): boolean {
  // No `http`: the shared matcher applies ztunnel's L4 rules to the L7 parts.
  return matchRule(compiled.rule, compiled.needsL7, action, conn, policyNamespace);
}

function policyMatches(p: Authorization, conn: L4Connection): boolean {
  const action = p.action === 'DENY' ? 'DENY' : 'ALLOW';
  return p.rules.some((r) => ruleMatches(r, action, conn, p.namespace));
}

export function evaluate(policies: readonly Authorization[], conn: L4Connection): AuthzDecision {
  return decide(policies, (p) => policyMatches(p, conn));
}

/** The Authorizations that apply to a workload: GLOBAL, its namespace's, and those named on it. */
export function policiesFor(
  all: ReadonlyMap<string, Authorization>,
  workload: { readonly namespace: string; readonly authorizationPolicies: readonly string[] },
): Authorization[] {
  const out: Authorization[] = [];
  for (const p of all.values()) {
    if (p.scope === 'GLOBAL' || (p.scope === 'NAMESPACE' && p.namespace === workload.namespace)) out.push(p);
  }
  for (const name of workload.authorizationPolicies) {
    // A policy named on the workload but missing from the store (a race, a lost delta) fails
    // closed: ztunnel skips it, which could turn a deny into an allow.
    out.push(all.get(name) ?? missingPolicy(name, workload.namespace));
  }
  return out;
}

function missingPolicy(name: string, namespace: string): Authorization {
  return { name, namespace, scope: 'WORKLOAD_SELECTOR', action: 'DENY', dryRun: false, rules: [{ rule: { from: [], to: [], when: [], valid: false }, needsL7: false }] };
}
