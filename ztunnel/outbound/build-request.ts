// buildRequest(): the pure outbound decision of ztunnel (facts §2.3, issue 4): for a connection
// from a local enrolled workload to an original destination, where does it go and how?
// Service VIP → load-balance over its healthy endpoints; an endpoint whose service account has a
// waypoint goes through that waypoint (authority = the original VIP:port, never falling back to a
// path that skips it); an enrolled endpoint gets HBONE to podIP:15008 with authority
// podIP:targetPort; an endpoint outside the mesh, or an unknown destination, is plain TCP
// passthrough; ztunnel's own ports are refused (no loops). No I/O: the executor does that.
import { serviceKey, type Service, type Workload } from '../../shared/config/model.js';
import type { ModelIndex } from '../../shared/config/model-index.js';
import type { Identity } from '../../shared/identity/spiffe.js';
import { identityOf } from '../context.js';

export const hbonePort = 15008;
/** Ports a captured connection may never target: ztunnel's own listeners (ztunnel's illegal_ports). */
export const illegalPorts: ReadonlySet<number> = new Set([15001, 15006, 15008, 15080]);

export type OutboundRequest =
  | {
      readonly kind: 'hbone';
      /** Where the TCP connection goes (pod or waypoint IP, port 15008). */
      readonly nextHop: { readonly host: string; readonly port: number };
      /** The CONNECT :authority. */
      readonly authority: string;
      readonly expectedIdentities: readonly Identity[];
      readonly via: 'direct' | 'waypoint';
      readonly destinationWorkload?: Workload;
      readonly service?: Service;
    }
  | { readonly kind: 'passthrough'; readonly target: { readonly host: string; readonly port: number }; readonly service?: Service }
  | { readonly kind: 'refuse'; readonly reason: 'self_call' | 'no_service_port' | 'no_healthy_upstream' | 'waypoint_unavailable' | 'unknown_source' };

export interface BuildOptions {
  /** Picks one endpoint (random in production, deterministic in tests). */
  readonly pick?: <T>(items: readonly T[]) => T;
  /** Addresses of this node: a destination on one of them with an illegal port is a loop. */
  readonly localAddresses?: ReadonlySet<string>;
}

const formatAddr = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

const randomPick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** HBONE to the waypoint of `w`, if it has one and the source is not that waypoint itself. */
function viaWaypoint(index: ModelIndex, source: Workload, w: Workload, authority: string, pick: NonNullable<BuildOptions['pick']>, service?: Service): OutboundRequest | undefined {
  const wp = w.waypoint;
  if (!wp) return undefined;
  const self = source.namespace === wp.identity.namespace && source.serviceAccount === wp.identity.serviceAccount;
  if (self) return undefined; // the waypoint's own upstream connection: do not loop back to it
  // Like Istio's ztunnel, pick a waypoint pod itself (no kube-proxy in the path of 15008), never
  // falling back to the destination when no waypoint pod is up.
  const pods = (index.endpointsByService.get(wp.service) ?? []).filter((p) => p.status === 'HEALTHY' && p.addresses.length > 0);
  if (pods.length === 0) return { kind: 'refuse', reason: 'waypoint_unavailable' };
  const address = pick(pods).addresses[0]!;
  return {
    kind: 'hbone',
    nextHop: { host: address, port: wp.hbonePort },
    authority,
    expectedIdentities: [wp.identity],
    via: 'waypoint',
    destinationWorkload: w,
    ...(service ? { service } : {}),
  };
}

function toWorkload(index: ModelIndex, source: Workload, w: Workload, ip: string, port: number, authorityIfWaypoint: string, pick: NonNullable<BuildOptions['pick']>, service?: Service): OutboundRequest {
  const waypoint = viaWaypoint(index, source, w, authorityIfWaypoint, pick, service);
  if (waypoint) return waypoint;
  if (w.tunnelProtocol !== 'HBONE') return { kind: 'passthrough', target: { host: ip, port }, ...(service ? { service } : {}) };
  return {
    kind: 'hbone',
    nextHop: { host: ip, port: hbonePort },
    authority: formatAddr(ip, port),
    expectedIdentities: [identityOf(w)],
    via: 'direct',
    destinationWorkload: w,
    ...(service ? { service } : {}),
  };
}

export function buildRequest(index: ModelIndex, sourceIp: string, dst: { readonly ip: string; readonly port: number }, opts: BuildOptions = {}): OutboundRequest {
  const source = index.workloadByIp.get(sourceIp);
  if (!source || source.tunnelProtocol !== 'HBONE') return { kind: 'refuse', reason: 'unknown_source' };
  if (illegalPorts.has(dst.port) && (isLoopback(dst.ip) || opts.localAddresses?.has(dst.ip))) return { kind: 'refuse', reason: 'self_call' };
  const pick = opts.pick ?? randomPick;

  const service = index.serviceByVip.get(dst.ip);
  if (service) {
    if (!service.ports.some((p) => p.servicePort === dst.port)) return { kind: 'refuse', reason: 'no_service_port' };
    const key = serviceKey(service);
    const candidates = (index.endpointsByService.get(key) ?? []).flatMap((w) => {
      const mapping = w.services[key]?.find((m) => m.servicePort === dst.port);
      const ip = w.addresses[0];
      return w.status === 'HEALTHY' && mapping && ip !== undefined ? [{ w, ip, targetPort: mapping.targetPort }] : [];
    });
    if (candidates.length === 0) return { kind: 'refuse', reason: 'no_healthy_upstream' };
    const chosen = pick(candidates);
    return toWorkload(index, source, chosen.w, chosen.ip, chosen.targetPort, formatAddr(dst.ip, dst.port), pick, service);
  }

  const workload = index.workloadByIp.get(dst.ip);
  if (workload) return toWorkload(index, source, workload, dst.ip, dst.port, formatAddr(dst.ip, dst.port), pick);
  return { kind: 'passthrough', target: { host: dst.ip, port: dst.port } };
}
