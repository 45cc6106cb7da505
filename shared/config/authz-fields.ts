// Which AuthorizationPolicy fields and `when` keys exist, and which ztunnel can enforce at L4.
// Keys: istio:pkg/config/security/security.go (ValidateAttribute) and
// https://istio.io/latest/docs/reference/config/security/conditions/. L4 split:
// istio:pilot/pkg/serviceregistry/ambient/authorization.go (httpOperations, httpSources,
// l4WhenAttributes) and https://istio.io/latest/docs/ambient/usage/l4-policy/.
import type { AuthorizationRule } from './security-resources.js';

/** How a condition key's values are checked. */
export type ConditionValueKind = 'ip' | 'port' | 'serviceAccount' | 'string';

/** Keys matched exactly. */
const exactKeys: Readonly<Record<string, ConditionValueKind>> = {
  'source.ip': 'ip',
  'remote.ip': 'ip',
  'source.namespace': 'string',
  'source.serviceAccount': 'serviceAccount',
  'source.principal': 'string',
  'request.auth.principal': 'string',
  'request.auth.audiences': 'string',
  'request.auth.presenter': 'string',
  'destination.ip': 'ip',
  'destination.port': 'port',
  'connection.sni': 'string',
};

/** Keys of the form `prefix[name]` (name non-empty). */
const mapKeyPrefixes = ['request.headers', 'request.experimental.inline.headers', 'request.auth.claims'] as const;

/** Keys Istio names but rejects, with its reason (v1alpha1 RBAC leftovers). */
const retiredKeys: Readonly<Record<string, string>> = {
  'destination.namespace': 'is replaced by the policy namespace (metadata.namespace)',
  'destination.name': 'was only supported in v1alpha1 RBAC',
  'destination.user': 'was only supported in v1alpha1 RBAC',
};

/**
 * The value kind for a supported `when` key, or the reason it is not supported. Mirrors Istio's
 * ValidateAttribute, but map keys must be exactly `prefix[name]` (Istio only checks the prefix).
 */
export function conditionKeyKind(key: string): ConditionValueKind | { readonly error: string } {
  const exact = exactKeys[key];
  if (exact !== undefined && Object.hasOwn(exactKeys, key)) return exact;
  if (Object.hasOwn(retiredKeys, key)) return { error: `key ${JSON.stringify(key)} ${retiredKeys[key]}` };
  if (key.startsWith('destination.labels')) return { error: `key ${JSON.stringify(key)} is replaced by the workload selector` };
  for (const prefix of mapKeyPrefixes) {
    if (key.startsWith(`${prefix}[`)) return isMapKey(key, prefix) ? 'string' : { error: `key ${JSON.stringify(key.slice(0, 80))} must have the form ${prefix}[name]` };
  }
  // experimental.envoy.filters.<filter>[<field>]: Envoy dynamic metadata (Istio: prefix + a[b]).
  if (key.startsWith('experimental.envoy.filters.')) {
    const open = key.indexOf('[');
    if (open > 'experimental.envoy.filters.'.length && key.endsWith(']') && open < key.length - 2) return 'string';
    return { error: `key ${JSON.stringify(key.slice(0, 80))} must have the form experimental.envoy.filters.<filter>[<key>]` };
  }
  return { error: `unknown condition key ${JSON.stringify(key.slice(0, 80))} (see https://istio.io/latest/docs/reference/config/security/conditions/)` };
}

function isMapKey(key: string, prefix: string): boolean {
  const inner = key.slice(prefix.length + 1, -1);
  // Claims may be nested: request.auth.claims[a][b] (Istio's extractNameInNestedBrackets).
  const names = prefix === 'request.auth.claims' ? inner.split('][') : [inner];
  return key.endsWith(']') && names.every((n) => n.length > 0 && !n.includes('[') && !n.includes(']'));
}

/** The `when` keys ztunnel enforces; every other key needs HTTP (a waypoint). */
export const l4ConditionKeys: ReadonlySet<string> = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);

/**
 * The L7-only fields a rule uses, named as in the Istio API (`hosts`, `requestPrincipals`, or the
 * `when` key itself), sorted and deduplicated — what istiod lists in its UnsupportedValue status.
 */
export function l7FieldsOf(rule: AuthorizationRule): string[] {
  const found = new Set<string>();
  for (const s of rule.from) {
    if (s.requestPrincipals.length > 0) found.add('requestPrincipals');
    if (s.notRequestPrincipals.length > 0) found.add('notRequestPrincipals');
    if (s.remoteIpBlocks.length > 0) found.add('remoteIpBlocks');
    if (s.notRemoteIpBlocks.length > 0) found.add('notRemoteIpBlocks');
  }
  for (const o of rule.to) {
    if (o.hosts.length > 0) found.add('hosts');
    if (o.notHosts.length > 0) found.add('notHosts');
    if (o.methods.length > 0) found.add('methods');
    if (o.notMethods.length > 0) found.add('notMethods');
    if (o.paths.length > 0) found.add('paths');
    if (o.notPaths.length > 0) found.add('notPaths');
  }
  for (const c of rule.when) if (!l4ConditionKeys.has(c.key)) found.add(c.key);
  return [...found].sort();
}

/**
 * True when the rule uses any field ztunnel cannot see at L4. ztunnel must then fail closed, as
 * istiod does for it: in ALLOW the whole rule never matches; in DENY the L7 parts are dropped and
 * the L4 parts kept (denies more than asked).
 */
export function ruleNeedsL7(rule: AuthorizationRule): boolean {
  return l7FieldsOf(rule).length > 0;
}
