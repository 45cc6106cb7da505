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

/** The order of Authorizations in the model (locale order of `namespace/name`). */
export function compareNames(a: string, b: string): number {
  return a.localeCompare(b);
}

/** One AuthorizationPolicy as ztunnel sees it (pure: depends on the policy and the root namespace). */
export interface CompiledPolicy {
  /** Undefined for policies ztunnel does not enforce: targetRefs (a waypoint's) and CUSTOM. */
  readonly authorization?: Authorization;
  /** matchLabels of a WORKLOAD_SELECTOR policy: the workloads it is listed on. */
  readonly selector?: Readonly<Record<string, string>>;
  readonly warnings: ConfigError[];
}

export function compilePolicy(p: AuthorizationPolicyResource, rootNamespace = defaultRootNamespace): CompiledPolicy {
  if (p.spec.targetRefs.length > 0) return { warnings: [] }; // waypoint policy
  if (!p.spec.supported || p.spec.action === 'CUSTOM') {
    return { warnings: [{ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: 'spec.action', reason: `${p.spec.action} is not supported by ztunnel; the policy is ignored` }] };
  }
  const warnings: ConfigError[] = [];
  const selector = p.spec.selector && Object.keys(p.spec.selector.matchLabels).length > 0 ? p.spec.selector.matchLabels : undefined;
  const scope = selector ? AuthorizationScope.WorkloadSelector : p.meta.namespace === rootNamespace ? AuthorizationScope.Global : AuthorizationScope.Namespace;
  const rules = p.spec.rules.map((rule) => ({ rule, needsL7: ruleNeedsL7(rule) }));
  if (rules.some((r) => r.needsL7)) {
    const effect = p.spec.action === 'ALLOW' ? 'those rules never match at ztunnel (fails closed)' : 'ztunnel denies all traffic those rules select (fails closed)';
    warnings.push({ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: 'spec.rules', reason: `uses L7 fields without a waypoint: ${effect}; attach it to a waypoint with targetRefs` });
  }
  const authorization: Authorization = { name: `${p.meta.namespace}/${p.meta.name}`, namespace: p.meta.namespace, scope, action: p.spec.action as Authorization['action'], rules, dryRun: p.spec.dryRun };
  return { authorization, ...(selector ? { selector } : {}), warnings };
}

/**
 * The PeerAuthentications in force, by scope: at most one per scope counts (the first by name;
 * Istio takes the oldest). `foldedFor(pod)` names the shared DENY-plaintext policy for the
 * pod's effective mode (undefined when it accepts plaintext); `authorization(name)` is that policy.
 */
export class PeerAuthenticationFold {
  private readonly rootNamespace: string;
  private readonly meshPa: PeerAuthenticationResource | undefined;
  private readonly nsPa = new Map<string, PeerAuthenticationResource>();
  /** Workload-selector PeerAuthentications by namespace, by name. */
  private readonly workloadPas = new Map<string, PeerAuthenticationResource[]>();
  private readonly folded = new Map<string, Authorization>();

  constructor(peerAuths: readonly PeerAuthenticationResource[], rootNamespace = defaultRootNamespace) {
    this.rootNamespace = rootNamespace;
    const sorted = [...peerAuths].sort(byName);
    this.meshPa = sorted.find((p) => p.meta.namespace === rootNamespace && !p.spec.selector);
    for (const p of sorted) {
      if (!p.spec.selector && !this.nsPa.has(p.meta.namespace)) this.nsPa.set(p.meta.namespace, p);
      if (p.spec.selector && Object.keys(p.spec.selector.matchLabels).length > 0) {
        const list = this.workloadPas.get(p.meta.namespace) ?? [];
        list.push(p);
        this.workloadPas.set(p.meta.namespace, list);
      }
    }
  }

  /** PeerAuthentications in force for nobody: any pod gets no folded policy. */
  get empty(): boolean {
    return this.meshPa === undefined && this.nsPa.size === 0 && this.workloadPas.size === 0;
  }

  foldedFor(pod: PodResource): string | undefined {
    if (this.empty) return undefined;
    const wl = this.workloadPas.get(pod.meta.namespace)?.find((p) => selects(p.spec.selector!.matchLabels, pod.meta.labels));
    const ns = this.nsPa.get(pod.meta.namespace);
    const modes: MtlsMode[] = [wl?.spec.mtlsMode ?? 'UNSET', ns?.spec.mtlsMode ?? 'UNSET', this.meshPa?.spec.mtlsMode ?? 'UNSET'];
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
    let ports: { only?: number[]; except?: number[] };
    if (base === 'STRICT') {
      key = permissivePorts.length ? `strict_except_${permissivePorts.join('_')}` : 'strict';
      ports = permissivePorts.length ? { except: permissivePorts } : {};
    } else if (strictPorts.length) {
      key = `strict_ports_${strictPorts.join('_')}`;
      ports = { only: strictPorts };
    } else {
      return undefined;
    }
    const name = `${this.rootNamespace}/converted_peer_authentication_${key}`;
    if (!this.folded.has(name)) {
      this.folded.set(name, { name, namespace: this.rootNamespace, scope: AuthorizationScope.WorkloadSelector, action: 'DENY', rules: [plaintextDeny(ports)], dryRun: false });
    }
    return name;
  }

  /** The folded policy `foldedFor()` returned this name for. */
  authorization(name: string): Authorization {
    const a = this.folded.get(name);
    if (!a) throw new Error(`no folded PeerAuthentication policy ${name}`);
    return a;
  }
}

/**
 * A selector policy whose rules name a port that none of the workloads it selects exposes is
 * almost always a mistake (a service port written where the pod's port belongs): warn, naming it.
 * `exposed`: the container ports of the workloads it selects (callers leave out policies that
 * select a pod declaring no ports: those are not held against the policy).
 */
export function missingPortWarnings(p: AuthorizationPolicyResource, exposed: ReadonlySet<number>): ConfigError[] {
  const out: ConfigError[] = [];
  p.spec.rules.forEach((rule, r) => rule.to.forEach((to, t) => {
    for (const port of to.ports) {
      if (!exposed.has(port)) {
        out.push({ source: 'model', kind: 'AuthorizationPolicy', namespace: p.meta.namespace, name: p.meta.name, path: `spec.rules[${r}].to[${t}].operation.ports`,
          reason: `port ${port} is not a port of any workload this policy selects (they expose ${[...exposed].sort((a, b) => a - b).join(', ')}); policies match the workload's port, not the service port` });
      }
    }
  }));
  return out;
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
): AuthorizationCompile {
  const authorizations: Authorization[] = [];
  const warnings: ConfigError[] = [];
  /** Selector policies by `namespace, first label=value`: a pod is only checked against policies
   *  that share its namespace and one of its labels. */
  const selectorPolicies = new Map<string, { auth: Authorization; matchLabels: Readonly<Record<string, string>> }[]>();
  for (const p of [...policies].sort((a, b) => compareNames(`${a.meta.namespace}/${a.meta.name}`, `${b.meta.namespace}/${b.meta.name}`))) {
    const compiled = compilePolicy(p, rootNamespace);
    warnings.push(...compiled.warnings);
    const auth = compiled.authorization;
    if (!auth) continue;
    authorizations.push(auth);
    if (compiled.selector) {
      const [k, v] = Object.entries(compiled.selector)[0]!;
      const key = `${p.meta.namespace}\u0000${k}=${v}`;
      const list = selectorPolicies.get(key) ?? [];
      list.push({ auth, matchLabels: compiled.selector });
      selectorPolicies.set(key, list);
    }
  }

  const fold = new PeerAuthenticationFold(peerAuths, rootNamespace);
  const folded = new Map<string, Authorization>();
  const perPod = new Map<PodResource, string[]>();
  return {
    get authorizations() {
      return [...authorizations, ...[...folded.values()].sort((a, b) => compareNames(a.name, b.name))];
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
        const pa = fold.foldedFor(pod);
        if (pa) {
          names.push(pa);
          folded.set(pa, fold.authorization(pa));
        }
        perPod.set(pod, names);
      }
      return names;
    },
  };
}

function byName(a: { meta: { namespace: string; name: string } }, b: { meta: { namespace: string; name: string } }): number {
  return compareNames(`${a.meta.namespace}/${a.meta.name}`, `${b.meta.namespace}/${b.meta.name}`);
}
