// Whether one AuthorizationPolicy rule matches a request — the one matcher behind both evaluate()
// (ztunnel, L4) and evaluateHttp() (waypoint, L7). Istio's structure (facts §2.6): a rule matches
// when one `from`, one `to` and every `when` match; within a field a positive list needs one
// match and a not-list none; unset fields place no constraint. Without `http` (ztunnel) an L7 field
// cannot be seen: callers have already dropped ALLOW rules needing L7, and a DENY rule ignores its
// L7 parts (`ignoreL7`), failing closed. An absent attribute (no peer identity, no JWT, no SNI)
// matches no value, so its not-forms pass — as Envoy's RBAC matchers behave.
import { l4ConditionKeys } from '../config/authz-fields.js';
import { parseCidr } from '../config/cidr.js';
import type { AuthorizationCondition, AuthorizationOperation, AuthorizationRule, AuthorizationSource } from '../config/security-resources.js';
import type { Identity } from '../identity/spiffe.js';
import { cidrContains } from './ip-match.js';
import { anyValueMatches, claimPath, claimValues, requestPrincipalMatches, type RequestAuth } from './request-auth.js';
import { hostMatches, pathMatches, stringMatches } from './string-match.js';

export interface L4Connection {
  /** The mTLS peer; absent for plaintext (15006). */
  readonly sourceIdentity?: Identity;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

/** What a waypoint knows of one HTTP request beyond the connection. */
export interface HttpAttributes {
  readonly method: string;
  /** Normalized (normalize-path.ts), query and fragment removed. */
  readonly path: string;
  /** The authority (`Host` / `:authority`) as received. */
  readonly host: string;
  /** Names lower-cased, repeated headers repeated. */
  readonly headers: readonly (readonly [string, string])[];
  /** `remote.ip` / remoteIpBlocks: the original client; the direct peer unless XFF is trusted. */
  readonly remoteIp: string;
  readonly auth?: RequestAuth;
}

export interface AuthzAttributes extends L4Connection {
  /** Present at the waypoint; absent at ztunnel. */
  readonly http?: HttpAttributes;
}

function principalOf(id: Identity | undefined): string | undefined {
  return id ? `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}` : undefined;
}

/** A constraint: unset (empty) always passes; a positive list needs one match; a not-list needs none. */
function constraint(values: readonly string[], notValues: readonly string[], test: (v: string) => boolean): boolean {
  if (values.length > 0 && !values.some(test)) return false;
  return !notValues.some(test);
}

/** An L7 constraint: checked on `http`; without it (ztunnel) it only passes when ignored (DENY). */
function l7Constraint(values: readonly string[], notValues: readonly string[], a: AuthzAttributes, ignoreL7: boolean, test: (http: HttpAttributes, v: string) => boolean): boolean {
  if (values.length + notValues.length === 0) return true;
  const http = a.http;
  if (!http) return ignoreL7;
  return constraint(values, notValues, (v) => test(http, v));
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

function sourceMatches(s: AuthorizationSource, a: AuthzAttributes, policyNamespace: string, ignoreL7: boolean): boolean {
  const principal = principalOf(a.sourceIdentity);
  const namespace = a.sourceIdentity?.namespace;
  if (!constraint(s.principals, s.notPrincipals, (p) => stringMatches(p, principal))) return false;
  if (!constraint(s.namespaces, s.notNamespaces, (p) => stringMatches(p, namespace))) return false;
  if (!constraint(s.serviceAccounts, s.notServiceAccounts, (e) => serviceAccountMatches(e, policyNamespace, a.sourceIdentity))) return false;
  if (s.ipBlocks.length > 0 && !s.ipBlocks.some((c) => cidrContains(c, a.sourceIp))) return false;
  if (s.notIpBlocks.some((c) => cidrContains(c, a.sourceIp))) return false;
  if (!l7Constraint(s.requestPrincipals, s.notRequestPrincipals, a, ignoreL7, (h, p) => requestPrincipalMatches(p, h.auth))) return false;
  if (s.remoteIpBlocks.length + s.notRemoteIpBlocks.length === 0) return true;
  if (!a.http) return ignoreL7;
  const remote = a.http.remoteIp;
  if (s.remoteIpBlocks.length > 0 && !s.remoteIpBlocks.some((c) => cidrContains(c, remote))) return false;
  return !s.notRemoteIpBlocks.some((c) => cidrContains(c, remote));
}

function operationMatches(o: AuthorizationOperation, a: AuthzAttributes, ignoreL7: boolean): boolean {
  if (o.ports.length > 0 && !o.ports.includes(a.destinationPort)) return false;
  if (o.notPorts.includes(a.destinationPort)) return false;
  return l7Constraint(o.hosts, o.notHosts, a, ignoreL7, (h, p) => hostMatches(p, h.host))
    && l7Constraint(o.methods, o.notMethods, a, ignoreL7, (h, p) => stringMatches(p, h.method))
    && l7Constraint(o.paths, o.notPaths, a, ignoreL7, (h, p) => pathMatches(p, h.path));
}

/**
 * Header values for `request.headers[name]`: each value of a repeated header on its own (issue 5;
 * Istio matches Envoy's comma-joined value instead). `host` / `:authority` is the authority and
 * `:method` the method, as in Envoy, whatever the protocol carried them in.
 */
function headerCandidates(h: HttpAttributes, name: string, inline: boolean): string[] {
  const lower = name.toLowerCase();
  if (lower === 'host' || lower === ':authority') return [h.host];
  if (lower === ':method') return [h.method];
  const values = h.headers.filter(([n]) => n === lower).map(([, v]) => v);
  // request.experimental.inline.headers: Envoy's inline form, each comma-separated element too.
  return inline ? values.flatMap((v) => [v, ...v.split(',')]) : values;
}

const mapKey = (key: string, prefix: string): string | undefined =>
  key.startsWith(`${prefix}[`) && key.endsWith(']') ? key.slice(prefix.length + 1, -1) : undefined;

/** The test for one value of an L7 `when` key, or undefined for a key with no attribute here (never matches). */
function l7ConditionTest(key: string, policyNamespace: string, a: AuthzAttributes, h: HttpAttributes): ((v: string) => boolean) | undefined {
  switch (key) {
    case 'remote.ip': return (v) => ipIn(v, h.remoteIp);
    case 'source.serviceAccount': return (v) => serviceAccountMatches(v, policyNamespace, a.sourceIdentity);
    case 'request.auth.principal': return (v) => stringMatches(v, h.auth?.principal);
    case 'request.auth.audiences': return (v) => anyValueMatches(v, h.auth?.audiences ?? []);
    case 'request.auth.presenter': return (v) => stringMatches(v, h.auth?.presenter);
    default: break;
  }
  const header = mapKey(key, 'request.headers');
  if (header !== undefined) return (v) => anyValueMatches(v, headerCandidates(h, header, false));
  const inline = mapKey(key, 'request.experimental.inline.headers');
  if (inline !== undefined) return (v) => anyValueMatches(v, headerCandidates(h, inline, true));
  const claims = claimPath(key);
  if (claims) return (v) => anyValueMatches(v, claimValues(h.auth?.claims, claims));
  // connection.sni (no TLS is terminated from the client here) and experimental.envoy.filters.*
  // (no Envoy metadata): the attribute is absent, so values never match and not-values pass.
  return undefined;
}

function conditionMatches(c: AuthorizationCondition, a: AuthzAttributes, policyNamespace: string, ignoreL7: boolean): boolean {
  if (l4ConditionKeys.has(c.key)) {
    return constraint(c.values, c.notValues, (v) => {
      switch (c.key) {
        case 'source.ip': return ipIn(v, a.sourceIp);
        case 'destination.ip': return ipIn(v, a.destinationIp);
        case 'destination.port': return Number(v) === a.destinationPort;
        case 'source.namespace': return stringMatches(v, a.sourceIdentity?.namespace);
        default: return stringMatches(v, principalOf(a.sourceIdentity)); // source.principal
      }
    });
  }
  if (!a.http) return ignoreL7; // an L7 condition at ztunnel: dropped in DENY, never satisfied in ALLOW
  const test = l7ConditionTest(c.key, policyNamespace, a, a.http) ?? ((): boolean => false);
  return constraint(c.values, c.notValues, test);
}

/**
 * Whether `rule` matches for a policy of `action`. A rule the decoder flagged invalid never
 * allows and always denies. At ztunnel (no `http`), an ALLOW rule needing L7 never matches.
 */
export function matchRule(rule: AuthorizationRule, needsL7: boolean, action: 'ALLOW' | 'DENY', a: AuthzAttributes, policyNamespace: string): boolean {
  if (!rule.valid) return action === 'DENY';
  if (!a.http && needsL7 && action === 'ALLOW') return false;
  const ignoreL7 = action === 'DENY';
  if (rule.from.length > 0 && !rule.from.some((s) => sourceMatches(s, a, policyNamespace, ignoreL7))) return false;
  if (rule.to.length > 0 && !rule.to.some((o) => operationMatches(o, a, ignoreL7))) return false;
  return rule.when.every((c) => conditionMatches(c, a, policyNamespace, ignoreL7));
}
