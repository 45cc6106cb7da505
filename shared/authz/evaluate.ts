// evaluate(): L4 authorization of one connection against the Authorizations that apply to its
// destination workload — Istio's semantics (facts §2.6): any matching DENY denies; no ALLOW
// policy allows; any matching ALLOW allows; otherwise deny. Pure and synchronous; ztunnel calls
// it per connection and again when policy changes.
// Ambit fails closed where ztunnel cannot see L7: an ALLOW rule that needs L7 never matches; in a
// DENY rule the L7 constraints are dropped (so an L7-only DENY denies everything it selects,
// stricter than Istio, which ignores it). A rule the decoder flagged invalid never allows and
// always denies. Dry-run policies are evaluated and reported, never enforced; AUDIT is ignored.
import { parseCidr } from '../config/cidr.js';
import type { Authorization, CompiledRule } from '../config/compile-authorization.js';
import type { AuthorizationCondition, AuthorizationOperation, AuthorizationSource } from '../config/security-resources.js';
import type { Identity } from '../identity/spiffe.js';
import { cidrContains } from './ip-match.js';

export interface L4Connection {
  /** The mTLS peer; absent for plaintext (15006). */
  readonly sourceIdentity?: Identity;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export interface DryRunResult {
  readonly policy: string;
  readonly action: 'ALLOW' | 'DENY';
  readonly matched: boolean;
}

export type AuthzDecision =
  | { readonly allowed: true; readonly policy?: string; readonly dryRun: readonly DryRunResult[] }
  | { readonly allowed: false; readonly reason: 'explicitly_denied' | 'not_allowed'; readonly policy?: string; readonly dryRun: readonly DryRunResult[] };

/** Istio's string match: `*` any non-empty value, `x*` prefix, `*x` suffix, else exact. */
export function stringMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

function principalOf(id: Identity | undefined): string | undefined {
  return id ? `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}` : undefined;
}

const anyOf = (patterns: readonly string[], value: string | undefined): boolean => patterns.some((p) => stringMatches(p, value));

/** A constraint: unset (empty) always passes; a positive list needs one match; a not-list needs none. */
function constraint(values: readonly string[], notValues: readonly string[], test: (v: string) => boolean): boolean {
  if (values.length > 0 && !values.some(test)) return false;
  return !notValues.some(test);
}

function ipIn(text: string, ip: string): boolean {
  const cidr = parseCidr(text);
  return !('error' in cidr) && cidrContains(cidr, ip);
}

function serviceAccountMatches(entry: string, policyNamespace: string, id: Identity | undefined): boolean {
  if (!id) return false;
  const [ns, sa] = entry.includes('/') ? (entry.split('/', 2) as [string, string]) : [policyNamespace, entry];
  return id.namespace === ns && id.serviceAccount === sa;
}

function sourceMatches(s: AuthorizationSource, conn: L4Connection, policyNamespace: string, ignoreL7: boolean): boolean {
  const principal = principalOf(conn.sourceIdentity);
  const namespace = conn.sourceIdentity?.namespace;
  if (!constraint(s.principals, s.notPrincipals, (p) => stringMatches(p, principal))) return false;
  if (!constraint(s.namespaces, s.notNamespaces, (p) => stringMatches(p, namespace))) return false;
  if (!constraint(s.serviceAccounts, s.notServiceAccounts, (e) => serviceAccountMatches(e, policyNamespace, conn.sourceIdentity))) return false;
  if (s.ipBlocks.length > 0 && !s.ipBlocks.some((c) => cidrContains(c, conn.sourceIp))) return false;
  if (s.notIpBlocks.some((c) => cidrContains(c, conn.sourceIp))) return false;
  // requestPrincipals / remoteIpBlocks are L7: only reached with ignoreL7 (DENY), where they are dropped.
  return ignoreL7 || (s.requestPrincipals.length + s.notRequestPrincipals.length + s.remoteIpBlocks.length + s.notRemoteIpBlocks.length === 0);
}

function operationMatches(o: AuthorizationOperation, conn: L4Connection): boolean {
  if (o.ports.length > 0 && !o.ports.includes(conn.destinationPort)) return false;
  return !o.notPorts.includes(conn.destinationPort);
}

function conditionMatches(c: AuthorizationCondition, conn: L4Connection, ignoreL7: boolean): boolean {
  const test = (v: string): boolean => {
    switch (c.key) {
      case 'source.ip': return ipIn(v, conn.sourceIp);
      case 'destination.ip': return ipIn(v, conn.destinationIp);
      case 'destination.port': return Number(v) === conn.destinationPort;
      case 'source.namespace': return stringMatches(v, conn.sourceIdentity?.namespace);
      case 'source.principal': return stringMatches(v, principalOf(conn.sourceIdentity));
      default: return false;
    }
  };
  const l4 = ['source.ip', 'destination.ip', 'destination.port', 'source.namespace', 'source.principal'].includes(c.key);
  if (!l4) return ignoreL7; // an L7 condition: dropped in DENY, never satisfied in ALLOW
  return constraint(c.values, c.notValues, test);
}

/** Whether `compiled` matches `conn` for a policy of `action`, with Ambit's fail-closed rules. */
export function ruleMatches(compiled: CompiledRule, action: 'ALLOW' | 'DENY', conn: L4Connection, policyNamespace: string): boolean {
  const { rule, needsL7 } = compiled;
  if (!rule.valid) return action === 'DENY';
  if (needsL7 && action === 'ALLOW') return false;
  const ignoreL7 = action === 'DENY';
  if (rule.from.length > 0 && !rule.from.some((s) => sourceMatches(s, conn, policyNamespace, ignoreL7))) return false;
  if (rule.to.length > 0 && !rule.to.some((o) => operationMatches(o, conn))) return false;
  return rule.when.every((c) => conditionMatches(c, conn, ignoreL7));
}

function policyMatches(p: Authorization, conn: L4Connection): boolean {
  const action = p.action === 'DENY' ? 'DENY' : 'ALLOW';
  return p.rules.some((r) => ruleMatches(r, action, conn, p.namespace));
}

export function evaluate(policies: readonly Authorization[], conn: L4Connection): AuthzDecision {
  const dryRun: DryRunResult[] = [];
  const enforced = policies.filter((p) => {
    if (p.action === 'AUDIT') return false;
    if (p.dryRun) dryRun.push({ policy: p.name, action: p.action, matched: policyMatches(p, conn) });
    return !p.dryRun;
  });
  const denied = enforced.find((p) => p.action === 'DENY' && policyMatches(p, conn));
  if (denied) return { allowed: false, reason: 'explicitly_denied', policy: denied.name, dryRun };
  const allows = enforced.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) return { allowed: true, dryRun };
  const allowed = allows.find((p) => policyMatches(p, conn));
  return allowed ? { allowed: true, policy: allowed.name, dryRun } : { allowed: false, reason: 'not_allowed', dryRun };
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
