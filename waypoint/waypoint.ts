// Waypoint: the per-service-account L7 proxy (issue 5). Wires its state (model + L7 resources,
// compiled per change), its one certificate (CertStore, renewed), the HBONE listener on 15008,
// the HBONE pool and the HTTP upstream over it, the request handler, Istio's HTTP and TCP
// metrics, readiness/metrics/admin, and the SIGTERM drain. Everything is passed in; tests run it
// in one process beside ztunnels.
import type net from 'node:net';
import { Registry } from 'prom-client';
import { HbonePool } from '../shared/hbone/pool.js';
import { listenTcp } from '../shared/net/listen-tcp.js';
import { HboneServerStats } from '../shared/hbone/server-stats.js';
import { CertStore, type CertificateFetcher } from '../shared/identity/cert-store.js';
import { formatIdentity, type Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import { AdminServers, type ListenAddress } from '../shared/telemetry/admin-servers.js';
import { HttpMetrics } from '../shared/telemetry/http-metrics.js';
import { TcpMetrics } from '../shared/telemetry/tcp-metrics.js';
import { HboneH2Upstream } from './hbone-h2-upstream.js';
import { HboneHttpUpstream } from './hbone-http-upstream.js';
import type { L7Config } from './l7-config.js';
import { RequestHandler } from './request-handler.js';
import { TcpProxy } from './tcp-proxy.js';
import { WaypointInbound } from './waypoint-inbound.js';
import type { WaypointState } from './state.js';
import { ProxyLifecycle } from '../shared/proxy-lifecycle.js';

export interface WaypointListen {
  readonly hbone: readonly ListenAddress[];
  readonly metrics?: ListenAddress;
  readonly readiness?: ListenAddress;
  readonly admin?: ListenAddress;
}

export interface WaypointOptions {
  /** `namespace/name` of the waypoint's Gateway. */
  readonly gateway: string;
  /** The identity it runs as (`<gateway>-istio-waypoint` in the gateway's namespace). */
  readonly identity: Identity;
  readonly state: WaypointState<L7Config>;
  readonly fetchCertificate: CertificateFetcher;
  readonly logger: Logger;
  readonly accessLogger?: Logger;
  readonly listen: WaypointListen;
  readonly registry?: Registry;
  readonly connectTimeoutMs?: number;
  readonly headersTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  /** Seeded in tests: weighted routing, fault and mirror percentages. */
  readonly random?: () => number;
  /** Direct test tier: where a pod's :15008 really listens. */
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

export class Waypoint {
  readonly registry: Registry;
  readonly certs: CertStore;
  readonly pool: HbonePool;
  readonly upstream: HboneHttpUpstream;
  readonly upstreamH2: HboneH2Upstream;
  readonly admin: AdminServers;
  readonly hboneStats: HboneServerStats;
  readonly ports: { hbone: number[] } = { hbone: [] };
  private readonly opts: WaypointOptions;
  private readonly log: Logger;
  private readonly inbound: WaypointInbound;
  private readonly handler: RequestHandler;
  private readonly listeners: net.Server[] = [];
  private readonly life = new ProxyLifecycle('waypoint', ['config', 'certificate', 'listeners']);
  private unsubscribe?: () => void;

  constructor(opts: WaypointOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.registry = opts.registry ?? new Registry();
    this.certs = new CertStore({
      fetch: opts.fetchCertificate,
      onError: (id, err) => this.log.warn({ identity: formatIdentity(id), err: (err as Error).message }, 'certificate fetch failed; retrying with backoff'),
    });
    // Node's engine: the upstream HTTP/1.1 and HTTP/2 clients run on the CONNECT stream as a Duplex.
    this.pool = new HbonePool({ logger: opts.logger, engine: 'node', ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}) });
    const certificate = () => this.certs.peek(opts.identity);
    this.upstream = new HboneHttpUpstream({ pool: this.pool, certificate, ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}), ...(opts.mapNextHop ? { mapNextHop: opts.mapNextHop } : {}) });
    this.upstreamH2 = new HboneH2Upstream({ pool: this.pool, certificate, ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}), ...(opts.mapNextHop ? { mapNextHop: opts.mapNextHop } : {}) });
    this.hboneStats = new HboneServerStats(this.registry);
    const accessLog = opts.accessLogger ?? opts.logger.child({ target: 'access' });
    this.handler = new RequestHandler({
      state: opts.state,
      upstream: this.upstream,
      upstreamH2: this.upstreamH2,
      metrics: new HttpMetrics(this.registry),
      identity: opts.identity,
      logger: opts.logger,
      accessLog,
      random: opts.random ?? Math.random,
    });
    const tcp = new TcpProxy({
      state: opts.state,
      pool: this.pool,
      certificate,
      identity: opts.identity,
      metrics: new TcpMetrics(this.registry, { component: 'waypoint', tag: 'ambit-0.1.0' }),
      accessLog,
      random: opts.random ?? Math.random,
      ...(opts.mapNextHop ? { mapNextHop: opts.mapNextHop } : {}),
    });
    this.inbound = new WaypointInbound({
      trustDomain: opts.identity.trustDomain,
      gateway: opts.gateway,
      index: () => opts.state.current.index,
      certificate,
      logger: opts.logger,
      stats: this.hboneStats,
      onRequest: (tunnel, req) => void this.handler.handle(tunnel, req),
      onTcp: (tunnel, stream) => tcp.handle(tunnel, stream),
      ...(opts.headersTimeoutMs ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
      ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    });
    this.admin = new AdminServers({
      ...(opts.listen.metrics ? { metrics: opts.listen.metrics } : {}),
      ...(opts.listen.readiness ? { readiness: opts.listen.readiness } : {}),
      ...(opts.listen.admin ? { admin: opts.listen.admin } : {}),
      registry: this.registry,
      logger: opts.logger,
      pendingReadiness: () => [...this.life.pending],
      configDump: () => this.configDump(),
      quit: () => void this.shutdown(),
    });
  }

  async start(): Promise<void> {
    await this.admin.start();
    for (const a of this.opts.listen.hbone) this.ports.hbone.push(await this.listen(a));
    this.life.pending.delete('listeners');
    this.unsubscribe = this.opts.state.onChange(() => {
      this.handler.configChanged();
      const live = this.handler.liveEndpointKeys();
      this.upstream.retain(live);
      this.upstreamH2.retain(live);
    });
    void this.opts.state.ready().then(() => {
      if (this.life.draining) return;
      this.life.pending.delete('config');
      this.log.info({ version: this.opts.state.current.version, gateway: this.opts.gateway }, 'first configuration received');
    });
    this.fetchCertificate();
  }

  ready(timeoutMs = 30_000): Promise<void> {
    return this.life.waitReady(timeoutMs);
  }

  private fetchCertificate(): void {
    this.certs.get(this.opts.identity).then(
      () => this.life.pending.delete('certificate'),
      () => {
        if (!this.life.draining) setTimeout(() => this.fetchCertificate(), 1_000).unref();
      },
    );
  }

  private async listen(addr: ListenAddress): Promise<number> {
    // A FIN on the HBONE transport means the peer is gone (streams half-close inside HTTP/2).
    const l = await listenTcp(addr, {
      allowHalfOpen: false,
      logger: this.log,
      onSocket: (socket) => {
        if (this.life.draining) return void socket.destroy();
        this.inbound.accept(socket);
      },
    });
    this.listeners.push(l.server);
    return l.port;
  }

  /** SIGTERM: stop accepting, let requests in flight finish up to `deadlineMs`, then close. */
  shutdown(deadlineMs = 5_000): Promise<void> {
    return this.life.stop(async () => {
      this.log.info({ inFlight: this.handler.inFlight, deadlineMs }, 'draining');
      for (const s of this.listeners) s.close();
      this.inbound.server.drain();
      const until = Date.now() + deadlineMs;
      while (this.handler.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await this.inbound.close();
      this.upstream.close();
      this.upstreamH2.close();
      this.handler.selector.close();
      await this.pool.close();
      this.unsubscribe?.();
      await this.admin.close();
      this.certs.close();
      this.opts.state.close();
      this.log.info('waypoint stopped');
    });
  }

  onStopped(listener: () => void): void {
    this.life.onStopped(listener);
  }

  configDump(): unknown {
    const view = this.opts.state.current;
    const cert = this.certs.peek(this.opts.identity);
    return {
      gateway: this.opts.gateway,
      identity: formatIdentity(this.opts.identity),
      version: view.version,
      ready: this.life.pending.size === 0,
      pendingReadiness: [...this.life.pending],
      certificate: cert ? { serial: cert.serialHex, expiry: new Date(cert.notAfterMs).toISOString() } : { state: 'Unavailable' },
      l7: view.compiled.describe(),
      inFlight: this.handler.inFlight,
      upstreamTunnels: this.upstream.openTunnels(),
    };
  }
}
