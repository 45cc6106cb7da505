// The waypoint's authorization (issue 5, Security): the AuthorizationPolicies attached to this
// waypoint for a destination (targetRefs to its Gateway or the destination Service, the
// istio-waypoint GatewayClass from the root namespace, or the istio.io/gateway-name selector),
// converted once per config change and evaluated per request with every L7 attribute; a TCP
// tunnel gets the L4 evaluation, where rules with L7 fields fail closed as at ztunnel.
import { evaluate } from '../shared/authz/evaluate.js';
import { evaluateHttpAuthorizations, waypointAuthorization } from '../shared/authz/evaluate-http.js';
import { waypointPolicies } from '../shared/authz/waypoint-policies.js';
import { ruleNeedsL7 } from '../shared/config/authz-fields.js';
import type { Authorization } from '../shared/config/compile-authorization.js';
import type { AuthorizationPolicyResource, AuthorizationRule } from '../shared/config/security-resources.js';
import type { AuthzInput, AuthzOutcome } from './l7-config.js';

interface Attached {
  readonly http: Authorization[];
  readonly tcp: Authorization[];
  /** Names of the policies whose rules constrain request principals or JWT claims. */
  readonly aboutRequestPrincipals: ReadonlySet<string>;
}

const mentionsRequestAuth = (r: AuthorizationRule): boolean =>
  r.from.some((f) => f.requestPrincipals.length + f.notRequestPrincipals.length > 0) || r.when.some((w) => w.key.startsWith('request.auth.'));

const noPolicies: AuthzOutcome = { allowed: true, dryRun: [] };

export class AuthzConfig {
  private readonly policies: readonly AuthorizationPolicyResource[];
  private readonly gateway: { readonly namespace: string; readonly name: string };
  private readonly rootNamespace: string;
  private readonly byDestination = new Map<string, Attached>();

  constructor(policies: readonly AuthorizationPolicyResource[], gateway: { namespace: string; name: string }, rootNamespace = 'istio-system') {
    this.policies = policies;
    this.gateway = gateway;
    this.rootNamespace = rootNamespace;
  }

  /** The policies attached for a destination (computed once per destination and config). */
  attached(destination: AuthzInput['destination']): Attached {
    const key = destination.kind === 'service' ? `svc|${destination.service.namespace}/${destination.service.name}` : 'pod';
    let a = this.byDestination.get(key);
    if (!a) {
      const service = destination.kind === 'service' ? { namespace: destination.service.namespace, name: destination.service.name } : undefined;
      const list = waypointPolicies(this.policies, { gateway: this.gateway, ...(service ? { service } : {}), rootNamespace: this.rootNamespace });
      a = {
        http: list.map(waypointAuthorization),
        tcp: list.map((p) => ({ ...waypointAuthorization(p), rules: p.spec.rules.map((rule) => ({ rule, needsL7: ruleNeedsL7(rule) })) })),
        aboutRequestPrincipals: new Set(list.filter((p) => p.spec.rules.some(mentionsRequestAuth)).map((p) => `${p.meta.namespace}/${p.meta.name}`)),
      };
      this.byDestination.set(key, a);
    }
    return a;
  }

  authorize(input: AuthzInput): AuthzOutcome {
    const a = this.attached(input.destination);
    const d = input.destination;
    const conn = {
      sourceIdentity: input.peer,
      sourceIp: input.clientIp,
      destinationIp: d.kind === 'service' ? (d.service.addresses[0] ?? '') : (d.workload.addresses[0] ?? ''),
      destinationPort: d.kind === 'service' ? d.port.servicePort : d.port,
    };
    if (!input.head) {
      const l4 = evaluate(a.tcp, conn);
      return l4.allowed ? { allowed: true, ...(l4.policy ? { policy: l4.policy } : {}), dryRun: l4.dryRun } : { allowed: false, reason: l4.reason, ...(l4.policy ? { policy: l4.policy } : {}), dryRun: l4.dryRun };
    }
    // No policy attached: allowed (the path was validated before authorization; nothing to match).
    if (a.http.length === 0) return noPolicies;
    const auth = input.auth ? { principal: input.auth.principal, audiences: input.auth.audiences, ...(input.auth.presenter ? { presenter: input.auth.presenter } : {}), claims: input.auth.claims } : undefined;
    const r = evaluateHttpAuthorizations(a.http, { ...conn, http: input.head, ...(auth ? { auth } : {}) });
    if (r.allowed) return { allowed: true, ...(r.policy ? { policy: r.policy } : {}), dryRun: r.dryRun };
    // Denied by a DENY policy about request principals, or not allowed while some ALLOW policy is.
    const needsRequestPrincipal = r.policy !== undefined ? a.aboutRequestPrincipals.has(r.policy) : a.http.some((p) => p.action === 'ALLOW' && a.aboutRequestPrincipals.has(p.name));
    return { allowed: false, reason: r.reason === 'invalid_path' ? `invalid path: ${r.detail}` : r.reason, ...(r.policy ? { policy: r.policy } : {}), needsRequestPrincipal, dryRun: r.dryRun };
  }

  describe(): unknown {
    return { policies: this.policies.map((p) => `${p.meta.namespace}/${p.meta.name}`) };
  }
}
