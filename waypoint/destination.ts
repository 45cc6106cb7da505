// buildDestination(): what a CONNECT to this waypoint is for, from its authority (facts §6.2):
// a service `VIP:port` whose endpoints this waypoint fronts, or a `podIP:port` of a workload bound
// to this waypoint. Anything else is refused: a waypoint is never an open relay. Pure.
import type { ModelIndex } from '../shared/config/model-index.js';
import type { Service, ServicePortSpec, Workload } from '../shared/config/model.js';

export type Destination =
  | { readonly kind: 'service'; readonly service: Service; readonly port: ServicePortSpec; readonly authority: string }
  | { readonly kind: 'workload'; readonly workload: Workload; readonly port: number; readonly authority: string }
  | { readonly kind: 'refuse'; readonly status: 400 | 503; readonly reason: string };

/** Whether `w` is served by the waypoint Gateway `gateway` (`namespace/name`). */
export function servedBy(w: Workload, gateway: string): boolean {
  return w.waypoint?.gateway === gateway;
}

export function buildDestination(index: ModelIndex, gateway: string, authority: { readonly ip: string; readonly port: number }): Destination {
  const text = authority.ip.includes(':') ? `[${authority.ip}]:${authority.port}` : `${authority.ip}:${authority.port}`;
  const service = index.serviceByVip.get(authority.ip);
  if (service) {
    const port = service.ports.find((p) => p.servicePort === authority.port);
    if (!port) return { kind: 'refuse', status: 400, reason: `service ${service.hostname} has no port ${authority.port}` };
    const endpoints = index.endpointsByService.get(`${service.namespace}/${service.hostname}`) ?? [];
    if (!endpoints.some((w) => servedBy(w, gateway))) return { kind: 'refuse', status: 400, reason: `service ${service.hostname} is not served by this waypoint` };
    return { kind: 'service', service, port, authority: text };
  }
  const workload = index.workloadByIp.get(authority.ip);
  if (workload && servedBy(workload, gateway)) return { kind: 'workload', workload, port: authority.port, authority: text };
  return { kind: 'refuse', status: 400, reason: `${text} is not a destination of this waypoint` };
}
