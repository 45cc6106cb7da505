// The client's address behind an HBONE hop: the source ztunnel puts the captured client address
// in `forwarded: for=` (facts §1.3). ztunnel (inbound) and the waypoint believe it only when that
// address belongs to a workload running as the authenticated peer, so a mesh client cannot claim
// another's IP; otherwise the TCP peer address is used.
import { isIP } from 'node:net';
import type { ModelIndex } from '../config/model-index.js';
import { sameIdentity, type Identity } from '../identity/spiffe.js';

export function hboneClientIp(index: ModelIndex, peer: Identity, forwarded: unknown, socketIp: string | undefined): string {
  const fallback = socketIp ?? '0.0.0.0';
  if (typeof forwarded !== 'string') return fallback;
  const m = /(?:^|[;,\s])for="?\[?([0-9a-fA-F:.]+?)\]?(?::\d+)?"?(?:[;,\s]|$)/.exec(forwarded);
  const ip = m?.[1];
  if (!ip || isIP(ip) === 0) return fallback;
  const w = index.workloadByIp.get(ip);
  return w && sameIdentity(peer, { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount }) ? ip : fallback;
}
