// AuthorizationCompiler: compileAuthorization() kept up to date by changes (the authorization
// half of ModelCompiler). Per WORKLOAD_SELECTOR policy it knows the pods it selects and how many
// of them declare each port (for the missing-port warning); per folded PeerAuthentication policy,
// how many pods use it (it exists while one does). Which pods to recompute after a change is
// its answer too: those a policy selected, and those in a changed PeerAuthentication's scope.
import type { ConfigError } from './config-error.js';
import { ChangeLog, keepIfSame } from './change-log.js';
import { compareNames, compilePolicy, defaultRootNamespace, missingPortWarnings, PeerAuthenticationFold, type Authorization, type CompiledPolicy } from './compile-authorization.js';
import { firstLabelKey, selectsLabels } from './model-builders.js';
import type { PodResource } from './resources.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource } from './security-resources.js';
import { SetIndex } from './set-index.js';
import { withChanges } from './sorted-list.js';

interface PolicyState {
  resource: AuthorizationPolicyResource;
  compiled: CompiledPolicy;
  /** Pods it selects, kept as those pods are recomputed. */
  readonly selected: Set<string>;
  /** Container port → how many selected pods declare it. */
  readonly ports: Map<number, number>;
  /** Selected pods that declare no ports at all. */
  portless: number;
}

/** What a pod contributes: the selector policies naming it and its folded policy. */
export interface PodAuthorization {
  readonly policies: readonly string[];
  readonly folded: string | undefined;
}

const byName = (a: Authorization): string => a.name;

export class AuthorizationCompiler {
  private readonly rootNamespace: string;
  private readonly policies = new Map<string, PolicyState>();
  /** WORKLOAD_SELECTOR policies by `namespace, first matchLabels label`. */
  private readonly policiesByLabel = new SetIndex();
  private readonly peerAuths = new Map<string, PeerAuthenticationResource>();
  private fold: PeerAuthenticationFold;
  /** Folded PeerAuthentication policies in use, and by how many pods. */
  private readonly folded = new Map<string, { authorization: Authorization; pods: number }>();
  private policyList: Authorization[] = [];
  private foldedList: Authorization[] = [];
  private list: readonly Authorization[] = [];
  private readonly policyChanges = new ChangeLog<Authorization>();
  private readonly foldedChanges = new ChangeLog<Authorization>();
  /** Policies changed in this step (their new selection is looked up once pods are indexed). */
  private changedPolicies: PolicyState[] = [];
  /** Namespaces whose PeerAuthentication changed in this step; `*`: the mesh's. */
  private changedScopes = new Set<string>();

  constructor(rootNamespace = defaultRootNamespace) {
    this.rootNamespace = rootNamespace;
    this.fold = new PeerAuthenticationFold([], rootNamespace);
  }

  /** Policies by name (compileAuthorization's order), then the folded PeerAuthentication ones. */
  get authorizations(): readonly Authorization[] {
    return this.list;
  }

  /** A policy appeared, changed or went away: the pods it selected join `dirty`. */
  policyChanged(name: string, after: AuthorizationPolicyResource | undefined, dirty: Set<string>): void {
    let state = this.policies.get(name);
    if (state) {
      if (state.compiled.authorization && state.compiled.selector) this.policiesByLabel.remove(firstLabelKey(state.resource.meta.namespace, state.compiled.selector), name);
      for (const pod of state.selected) dirty.add(pod);
    }
    const previous = state?.compiled.authorization;
    if (!after) {
      this.policyChanges.record(name, previous, undefined);
      this.policies.delete(name);
      return;
    }
    let compiled = compilePolicy(after, this.rootNamespace);
    if (compiled.authorization) {
      const authorization = keepIfSame(previous, compiled.authorization);
      if (authorization !== compiled.authorization) compiled = { ...compiled, authorization };
    }
    if (state) {
      state.resource = after;
      state.compiled = compiled;
    } else {
      state = { resource: after, compiled, selected: new Set(), ports: new Map(), portless: 0 };
      this.policies.set(name, state);
    }
    this.policyChanges.record(name, previous, compiled.authorization);
    if (compiled.authorization && compiled.selector) this.policiesByLabel.add(firstLabelKey(after.meta.namespace, compiled.selector), name);
    this.changedPolicies.push(state);
  }

  peerAuthenticationChanged(key: string, after: PeerAuthenticationResource | undefined): void {
    for (const pa of [this.peerAuths.get(key), after]) {
      if (!pa) continue;
      // The mesh-wide one (root namespace, no selector) reaches every pod; any other, its namespace.
      this.changedScopes.add(pa.meta.namespace === this.rootNamespace && !pa.spec.selector ? '*' : pa.meta.namespace);
    }
    if (after) this.peerAuths.set(key, after);
    else this.peerAuths.delete(key);
  }

  /**
   * The pods this step's changes reach beyond those already recorded: the pods changed policies
   * now select (`select` adds the pods of a namespace a selector matches, from the current
   * pods), and the pods of changed PeerAuthentication scopes (`inScope('*')`: every pod).
   */
  reachedPods(select: (namespace: string, selector: Readonly<Record<string, string>>) => void, inScope: (namespace: string) => void): void {
    for (const p of this.changedPolicies) if (p.compiled.authorization && p.compiled.selector) select(p.resource.meta.namespace, p.compiled.selector);
    this.changedPolicies = [];
    if (this.changedScopes.size === 0) return;
    this.fold = new PeerAuthenticationFold([...this.peerAuths.values()], this.rootNamespace);
    if (this.changedScopes.has('*')) inScope('*');
    else for (const ns of this.changedScopes) inScope(ns);
    this.changedScopes = new Set();
  }

  /** The selector policies that select the pod (sorted by name) and its folded policy; `labelKeys`: labelKey() of each of its labels. */
  forPod(pod: PodResource, labelKeys: readonly string[]): PodAuthorization {
    const policies: string[] = [];
    for (const lk of labelKeys) {
      for (const p of this.policiesByLabel.get(lk)) {
        if (selectsLabels(this.policies.get(p)!.compiled.selector!, pod.meta.labels) && !policies.includes(p)) policies.push(p);
      }
    }
    policies.sort();
    return { policies, folded: this.fold.foldedFor(pod) };
  }

  /** Adds (1) or withdraws (-1) a pod's part in the policies and the folded policy naming it. */
  contribute(podKey: string, pod: PodResource, a: PodAuthorization, sign: 1 | -1): void {
    const ports = a.policies.length > 0 ? [...new Set(pod.spec.ports.map((p) => p.containerPort))] : [];
    for (const name of a.policies) {
      const p = this.policies.get(name);
      if (!p) continue; // removed in this step
      if (sign > 0) p.selected.add(podKey);
      else p.selected.delete(podKey);
      if (ports.length === 0) p.portless += sign;
      for (const port of ports) {
        const n = (p.ports.get(port) ?? 0) + sign;
        if (n > 0) p.ports.set(port, n);
        else p.ports.delete(port);
      }
    }
    if (!a.folded) return;
    let entry = this.folded.get(a.folded);
    if (!entry) {
      if (sign < 0) return;
      entry = { authorization: this.fold.authorization(a.folded), pods: 0 };
      this.folded.set(a.folded, entry);
      this.foldedChanges.record(a.folded, undefined, entry.authorization);
    }
    entry.pods += sign;
  }

  /** Ends a step: drops folded policies no pod uses any more; returns what changed, in model order. */
  take(): { upserted: Authorization[]; removed: string[] } {
    for (const [name, entry] of this.folded) {
      if (entry.pods > 0) continue;
      this.folded.delete(name);
      this.foldedChanges.record(name, entry.authorization, undefined);
    }
    const policies = this.policyChanges.take(compareNames);
    const folded = this.foldedChanges.take(compareNames);
    const policiesChanged = policies.upserted.length + policies.removed.length > 0;
    const foldedChanged = folded.upserted.length + folded.removed.length > 0;
    if (policiesChanged) this.policyList = withChanges(this.policyList, policies.upserted, policies.removed, byName, compareNames);
    if (foldedChanged) this.foldedList = withChanges(this.foldedList, folded.upserted, folded.removed, byName, compareNames);
    if (policiesChanged || foldedChanged) this.list = [...this.policyList, ...this.foldedList];
    return { upserted: [...policies.upserted, ...folded.upserted], removed: [...policies.removed, ...folded.removed] };
  }

  /** compileAuthorization()'s warnings, in its order (policies by name). */
  policyWarnings(): ConfigError[] {
    return this.sortedPolicies().flatMap((p) => p.compiled.warnings);
  }

  /** Selector policies naming a port no pod they select declares (pods declaring none excuse it). */
  portWarnings(): ConfigError[] {
    return this.sortedPolicies().flatMap((p) => (p.selected.size > 0 && p.portless === 0 ? missingPortWarnings(p.resource, new Set(p.ports.keys())) : []));
  }

  private sortedPolicies(): PolicyState[] {
    return [...this.policies.entries()].sort((a, b) => compareNames(a[0], b[0])).map(([, p]) => p);
  }
}
