// TcpProxy: a tunnel that carries neither HTTP/1.1 nor HTTP/2 — L4 authorization only (rules
// with L7 fields fail closed, as at ztunnel), then an endpoint of the destination through a new
// HBONE tunnel and a byte relay; Istio's TCP metrics with reporter `waypoint`, one log line.
import type { ServerHttp2Stream } from 'node:http2';
import type { HbonePool } from '../shared/hbone/pool.js';
import { identityUri, type Identity } from '../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../shared/identity/workload-certificate.js';
import type { Logger } from '../shared/log.js';
import { relay, RelayEnd } from '../shared/net/relay.js';
import { trafficLabels, type TcpMetrics } from '../shared/telemetry/tcp-metrics.js';
import { defaultBackend, type L7Config } from './l7-config.js';
import type { WaypointState } from './state.js';
import { UpstreamSelector } from './upstream-selector.js';
import type { TunnelContext } from './waypoint-inbound.js';

export interface TcpProxyOptions {
  readonly state: WaypointState<L7Config>;
  readonly pool: HbonePool;
  readonly certificate: () => WorkloadCertificate | undefined;
  readonly identity: Identity;
  readonly metrics: TcpMetrics;
  readonly accessLog: Logger;
  readonly random: () => number;
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

export class TcpProxy {
  private readonly opts: TcpProxyOptions;
  private readonly selector: UpstreamSelector;

  constructor(opts: TcpProxyOptions) {
    this.opts = opts;
    this.selector = new UpstreamSelector({ random: opts.random });
  }

  handle(tunnel: TunnelContext, stream: ServerHttp2Stream): void {
    void this.run(tunnel, stream);
  }

  private async run(tunnel: TunnelContext, stream: ServerHttp2Stream): Promise<void> {
    const view = this.opts.state.current;
    const dest = tunnel.destination;
    const src = view.index.workloadByIp.get(tunnel.clientIp);
    const backend = defaultBackend(dest);
    const picked = this.selector.pick(view.index, backend, new Set(), undefined);
    const dst = 'endpoint' in picked ? picked.endpoint.workload : undefined;
    const labels = trafficLabels({
      reporter: 'waypoint',
      ...(src ? { source: src } : {}),
      sourcePrincipal: tunnel.peer,
      ...(dst ? { destination: dst, destinationPrincipal: { trustDomain: dst.trustDomain, namespace: dst.namespace, serviceAccount: dst.serviceAccount } } : {}),
      ...(dest.kind === 'service' ? { service: dest.service } : {}),
      mtls: true,
    });
    const line = { protocol: 'tcp', 'src.addr': tunnel.clientIp, 'src.identity': identityUri(tunnel.peer), 'dst.addr': dest.authority };
    const fail = (flag: 'DENY' | 'CONNECT', error: string): void => {
      this.opts.metrics.fail({ ...labels, response_flags: flag });
      this.opts.accessLog.error({ ...line, error }, 'connection failed');
      stream.close(0x8 /* CANCEL: the client sees a reset */);
    };
    const decision = view.compiled.authorize({ destination: dest, peer: tunnel.peer, clientIp: tunnel.clientIp });
    if (!decision.allowed) return fail('DENY', `denied${decision.policy ? ` by ${decision.policy}` : ''}`);
    const source = this.opts.certificate();
    if (!('endpoint' in picked) || !source) return fail('CONNECT', 'no healthy upstream');
    const ep = picked.endpoint;
    const hop = { host: ep.ip, port: 15008 };
    let upstream;
    try {
      upstream = await this.opts.pool.connect({
        source,
        expectedIdentities: [{ trustDomain: ep.workload.trustDomain, namespace: ep.workload.namespace, serviceAccount: ep.workload.serviceAccount }],
        nextHop: this.opts.mapNextHop ? this.opts.mapNextHop(hop) : hop,
        authority: ep.ip.includes(':') ? `[${ep.ip}]:${ep.port}` : `${ep.ip}:${ep.port}`,
      });
    } catch (err) {
      return fail('CONNECT', `upstream connect failed: ${(err as Error).message}`);
    }
    this.opts.metrics.open(labels);
    const result = await relay(stream, upstream);
    this.opts.metrics.close(labels, { sent: result.bytesBtoA, received: result.bytesAtoB });
    const error = result.end === RelayEnd.Completed ? undefined : result.error?.message ?? result.end;
    this.opts.accessLog.info({ ...line, upstream: `${ep.ip}:${ep.port}`, bytes_sent: result.bytesBtoA, bytes_received: result.bytesAtoB, ...(error ? { error } : {}) }, 'connection complete');
  }
}
