// The L4 authorization part of the model, as istiod computes it for ztunnel (facts §2.6, §2.7):
// AuthorizationPolicies without targetRefs become Authorizations scoped GLOBAL (root namespace,
// no selector), NAMESPACE (no selector) or WORKLOAD_SELECTOR (listed by name on each selected
// workload). Policies with targetRefs belong to waypoints and are not ztunnel's. Each rule says
// whether it needs L7, so the L4 evaluator can fail closed on it. PeerAuthentication is folded
// into synthetic DENY policies: the effective mode per workload (workload > namespace > mesh,
// port-level overrides) picks one of a few shared policies, so a STRICT mesh costs one policy,
// not one per workload. DISABLE is ignored (HBONE is always mTLS), as in Istio.
import type { ConfigError } from './config-error.js';
import { ruleNeedsL7 } from './authz-fields.js';
import type { PodResource } from './resources.js';
import type { AuthorizationPolicyResource, AuthorizationRule, MtlsMode, PeerAuthenticationResource } from './security-resources.js';

export const AuthorizationScope = { Global: 'GLOBAL', Namespace: 'NAMESPACE', WorkloadSelector: 'WORKLOAD_SELECTOR' } as const;
export type AuthorizationScope = (typeof AuthorizationScope)[keyof typeof AuthorizationScope];

export interface CompiledRule {
  readonly rule: AuthorizationRule;
  /** The rule uses fields ztunnel cannot see (hosts, methods, paths, request principals...). */
  readonly needsL7: boolean;
}

export interface Authorization {
  /** `namespace/name`, or `<namespace>/converted_peer_authentication_<mode>` for folded PeerAuthentication. */
  readonly name: string;
  readonly namespace: string;
  readonly scope: AuthorizationScope;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  readonly rules: readonly CompiledRule[];
  readonly dryRun: boolean;
}

export const defaultRootNamespace = 'istio-system';

function selects(matchLabels: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  for (const k in matchLabels) if (labels[k] !== matchLabels[k]) return false;
  return true;
}

const emptySource = { principals: [], requestPrincipals: [], notRequestPrincipals: [], namespaces: [], notNamespaces: [], serviceAccounts: [], notServiceAccounts: [], ipBlocks: [], notIpBlocks: [], remoteIpBlocks: [], notRemoteIpBlocks: [] };
const emptyOperation = { hosts: [], notHosts: [], methods: [], notMethods: [], paths: [], notPaths: [] };

/** DENY any peer without an identity (Istio: notPrincipals presence), on these ports or all but these. */
function plaintextDeny(ports: { only?: number[]; except?: number[] }): CompiledRule {
  const rule: AuthorizationRule = {
    from: [{ ...emptySource, notPrincipals: ['*'] }],
    to: ports.only || ports.except ? [{ ...emptyOperation, ports: ports.only ?? [], notPorts: ports.except ?? [] }] : [],
    when: [],
    valid: true,
  };
  return { rule, needsL7: false };
}

export interface AuthorizationCompile {
  readonly authorizations: Authorization[];
  /** Selector-scoped (and folded PeerAuthentication) policy names for a pod. */
  policiesFor(pod: PodResource): string[];
  readonly warnings: ConfigError[];
}

export function compileAuthorization(
  policies: readonly AuthorizationPolicyResource[],
  peerAuths: readonly PeerAuthenticationResource[],
  rootNamespace = defaultRootNamespace,
  /** The last compile's Authorization per policy object: unchanged policies keep their object. */
  cache?: WeakMap<AuthorizationPolicyResource, Authorization>,
): AuthorizationCompile {
  const authorizations: Authorization[] = [];
  const warnings: ConfigError[] = [];
  /** Selector policies by `namespace, first label=value`: a pod is only checked against policies
   *  that share its namespace and one of its labels. */
  const selectorPolicies = new Map<string, { auth: Authorization; matchLabels: Readonly<Record<string, string>> }[]>();
  for (const p of [...policies].sort((a, b) => `${a.meta.namespace}/${a.meta.name}`.localeCompare(`${b.meta.namespace}/${b.meta.name}`))) {
    if (p.spec.targetRefs.length > 0) continue; // waypoint policy
    if (!p.spec.supported || p.spec.action === 'CUSTOM') {
      warnings.push({ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: 'spec.action', reason: `${p.spec.action} is not supported by ztunnel; the policy is ignored` });
      continue;
    }
    const selector = p.spec.selector && Object.keys(p.spec.selector.matchLabels).length > 0 ? p.spec.selector.matchLabels : undefined;
    const scope = selector ? AuthorizationScope.WorkloadSelector : p.meta.namespace === rootNamespace ? AuthorizationScope.Global : AuthorizationScope.Namespace;
    const rules = p.spec.rules.map((rule) => ({ rule, needsL7: ruleNeedsL7(rule) }));
    if (rules.some((r) => r.needsL7)) {
      const effect = p.spec.action === 'ALLOW' ? 'those rules never match at ztunnel (fails closed)' : 'ztunnel denies all traffic those rules select (fails closed)';
      warnings.push({ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: 'spec.rules', reason: `uses L7 fields without a waypoint: ${effect}; attach it to a waypoint with targetRefs` });
    }
    const auth: Authorization = cache?.get(p) ?? { name: `${p.meta.namespace}/${p.meta.name}`, namespace: p.meta.namespace, scope, action: p.spec.action as Authorization['action'], rules, dryRun: p.spec.dryRun };
    cache?.set(p, auth);
    authorizations.push(auth);
    if (selector) {
      const [k, v] = Object.entries(selector)[0]!;
      const key = `${p.meta.namespace}\u0000${k}=${v}`;
      const list = selectorPolicies.get(key) ?? [];
      list.push({ auth, matchLabels: selector });
      selectorPolicies.set(key, list);
    }
  }

  // PeerAuthentication: at most one per scope counts (the first by name; Istio takes the oldest).
  const meshPa = peerAuths.filter((p) => p.meta.namespace === rootNamespace && !p.spec.selector).sort(byName)[0];
  const nsPa = new Map<string, PeerAuthenticationResource>();
  for (const p of [...peerAuths].sort(byName)) if (!p.spec.selector && !nsPa.has(p.meta.namespace)) nsPa.set(p.meta.namespace, p);
  const workloadPas = peerAuths.filter((p) => p.spec.selector && Object.keys(p.spec.selector.matchLabels).length > 0).sort(byName);
  const folded = new Map<string, Authorization>();
  const foldedFor = (pod: PodResource): string | undefined => {
    const wl = workloadPas.find((p) => p.meta.namespace === pod.meta.namespace && selects(p.spec.selector!.matchLabels, pod.meta.labels));
    const ns = nsPa.get(pod.meta.namespace);
    const modes: MtlsMode[] = [wl?.spec.mtlsMode ?? 'UNSET', ns?.spec.mtlsMode ?? 'UNSET', meshPa?.spec.mtlsMode ?? 'UNSET'];
    const base = modes.find((m) => m !== 'UNSET') === 'STRICT' ? 'STRICT' : 'PERMISSIVE';
    const strictPorts: number[] = [];
    const permissivePorts: number[] = [];
    for (const [port, mode] of wl?.spec.portLevelMtls ?? []) {
      if (mode === 'STRICT' && base !== 'STRICT') strictPorts.push(port);
      if ((mode === 'PERMISSIVE' || mode === 'DISABLE') && base === 'STRICT') permissivePorts.push(port);
    }
    strictPorts.sort((a, b) => a - b);
    permissivePorts.sort((a, b) => a - b);
    let key: string;
    let rule: CompiledRule;
    if (base === 'STRICT') {
      key = permissivePorts.length ? `strict_except_${permissivePorts.join('_')}` : 'strict';
      rule = plaintextDeny(permissivePorts.length ? { except: permissivePorts } : {});
    } else if (strictPorts.length) {
      key = `strict_ports_${strictPorts.join('_')}`;
      rule = plaintextDeny({ only: strictPorts });
    } else {
      return undefined;
    }
    const name = `${rootNamespace}/converted_peer_authentication_${key}`;
    if (!folded.has(name)) {
      folded.set(name, { name, namespace: rootNamespace, scope: AuthorizationScope.WorkloadSelector, action: 'DENY', rules: [rule], dryRun: false });
    }
    return name;
  };

  const perPod = new Map<PodResource, string[]>();
  return {
    get authorizations() {
      return [...authorizations, ...[...folded.values()].sort((a, b) => a.name.localeCompare(b.name))];
    },
    warnings,
    policiesFor(pod: PodResource): string[] {
      let names = perPod.get(pod);
      if (!names) {
        names = [];
        for (const k in pod.meta.labels) {
          for (const s of selectorPolicies.get(`${pod.meta.namespace}\u0000${k}=${pod.meta.labels[k]}`) ?? []) {
            if (selects(s.matchLabels, pod.meta.labels) && !names.includes(s.auth.name)) names.push(s.auth.name);
          }
        }
        names.sort();
        const pa = foldedFor(pod);
        if (pa) names.push(pa);
        perPod.set(pod, names);
      }
      return names;
    },
  };
}

function byName(a: { meta: { namespace: string; name: string } }, b: { meta: { namespace: string; name: string } }): number {
  return `${a.meta.namespace}/${a.meta.name}`.localeCompare(`${b.meta.namespace}/${b.meta.name}`);
}
