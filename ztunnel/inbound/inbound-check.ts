// checkInbound(): the pure decision ztunnel makes for a connection arriving at a local pod,
// over HBONE (with the mTLS peer) or plaintext (no identity): is the destination a local enrolled
// workload, is the port one ztunnel may forward to, does a waypoint have to be in the path, and
// what does L4 authorization say (facts §2.5–2.7). Used at connection open, again for every live
// connection when policy changes, and by `ambit x authz check`.
import type { Workload } from '../../shared/config/model.js';
import { evaluate, policiesFor, type AuthzDecision } from '../../shared/authz/evaluate.js';
import { hboneClientIp as clientIpBehindHbone } from '../../shared/hbone/forwarded-client.js';
import type { Identity } from '../../shared/identity/spiffe.js';
import type { StateView } from '../state.js';

/** Ports of ztunnel itself (listeners, metrics, readiness, admin): never a forwarding target. */
export const ztunnelPorts: ReadonlySet<number> = new Set([15000, 15001, 15006, 15008, 15020, 15021, 15080]);

export interface InboundRequest {
  /** The mTLS peer; undefined for plaintext (15006). */
  readonly peer?: Identity;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export type InboundCheck =
  | { readonly ok: true; readonly workload: Workload; readonly decision: AuthzDecision }
  | {
      readonly ok: false;
      readonly status: 400 | 401 | 503;
      readonly reason: 'unknown_destination' | 'self_call' | 'not_from_waypoint' | 'explicitly_denied' | 'not_allowed';
      readonly workload?: Workload;
      readonly decision?: AuthzDecision;
      readonly policy?: string;
    };

const sameIdentity = (a: Identity, b: { trustDomain: string; namespace: string; serviceAccount: string }): boolean =>
  a.trustDomain === b.trustDomain && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount;

/** The local, enrolled workload at `ip` on `node`, if any. */
export function localWorkload(view: StateView, node: string | undefined, ip: string): Workload | undefined {
  const w = view.index.workloadByIp.get(ip);
  if (!w || w.tunnelProtocol !== 'HBONE' || w.networkMode !== 'STANDARD') return undefined;
  if (node !== undefined && w.node !== node) return undefined;
  return w;
}

export function checkInbound(view: StateView, node: string | undefined, req: InboundRequest): InboundCheck {
  // Loopback, the node's own addresses and anything else that is not a local enrolled pod fail
  // the workload lookup below (503): ztunnel is never an open relay.
  if (ztunnelPorts.has(req.destinationPort)) return { ok: false, status: 400, reason: 'self_call' };
  const workload = localWorkload(view, node, req.destinationIp);
  if (!workload) return { ok: false, status: 503, reason: 'unknown_destination' };
  // Beyond Istio: mesh traffic to a workload that has a waypoint must come through it.
  if (req.peer && workload.waypoint && !sameIdentity(req.peer, workload.waypoint.identity)) {
    return { ok: false, status: 401, reason: 'not_from_waypoint', workload };
  }
  const decision = evaluate(policiesFor(view.authorizations, workload), {
    ...(req.peer ? { sourceIdentity: req.peer } : {}),
    sourceIp: req.sourceIp,
    destinationIp: req.destinationIp,
    destinationPort: req.destinationPort,
  });
  if (!decision.allowed) {
    return { ok: false, status: 401, reason: decision.reason, workload, decision, ...(decision.policy ? { policy: decision.policy } : {}) };
  }
  return { ok: true, workload, decision };
}

/** The client's address for policy (source.ip, ipBlocks) on HBONE (see shared/hbone/forwarded-client.ts). */
export function hboneClientIp(view: StateView, peer: Identity, forwarded: unknown, socketIp: string | undefined): string {
  return clientIpBehindHbone(view.index, peer, forwarded, socketIp);
}

/** A one-line human explanation of a check, for logs and `ambit x authz check`. */
export function explainCheck(c: InboundCheck, policiesApplying: number): string {
  if (c.ok) {
    const p = c.decision.policy;
    return p ? `allowed by ALLOW policy ${p}` : policiesApplying === 0 ? 'no policy applies to the destination: allowed' : 'no ALLOW policy applies and no DENY policy matched: allowed';
  }
  switch (c.reason) {
    case 'self_call': return 'the destination port is one of ztunnel\'s own ports: refused';
    case 'unknown_destination': return 'the destination is not an enrolled workload on this node';
    case 'not_from_waypoint': return 'the destination has a waypoint: mesh traffic must come from the waypoint identity';
    case 'explicitly_denied': return `denied by DENY policy ${c.policy ?? '(unknown)'}`;
    case 'not_allowed': return 'ALLOW policies apply but none matched: denied';
  }
}
