// Ztunnel: the per-node proxy. Wires the model (ZtunnelState), certificates (CertStore, fetched
// per local identity and renewed), the three capture listeners (outbound 15001, inbound HBONE
// 15008, inbound plaintext 15006), the HBONE pool, connection tracking with policy re-checks,
// Istio's TCP metrics and access log, readiness/metrics/admin, optional capture rules, and the
// SIGTERM drain. Everything is passed in; tests run two of these in one process.
import net from 'node:net';
import os from 'node:os';
import { Registry } from 'prom-client';
import { HbonePool } from '../shared/hbone/pool.js';
import type { HboneEngine } from '../shared/hbone/settings.js';
import { listenTcp } from '../shared/net/listen-tcp.js';
import { HboneServerStats } from '../shared/hbone/server-stats.js';
import { CertStore, type CertificateFetcher } from '../shared/identity/cert-store.js';
import { formatIdentity, type Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import { TcpMetrics } from '../shared/telemetry/tcp-metrics.js';
import { AdminServers, type ListenAddress } from '../shared/telemetry/admin-servers.js';
import { ConnectionManager } from './connection-manager.js';
import { identityOf, type ZtunnelContext } from './context.js';
import { HboneInbound } from './inbound/hbone-inbound.js';
import { checkInbound } from './inbound/inbound-check.js';
import { PlaintextInbound } from './inbound/plaintext-inbound.js';
import type { OriginalDstResolver } from './orig-dst.js';
import { Outbound } from './outbound/outbound.js';
import type { StateChange, StateView, ZtunnelState } from './state.js';
import { ProxyLifecycle } from '../shared/proxy-lifecycle.js';

/** The capture rules of this node (ztunnel/capture), driven by the set of local enrolled pod IPs. */
export interface CaptureController {
  reconcile(podIps: readonly string[]): Promise<void>;
  remove(): Promise<void>;
}

export interface ZtunnelListen {
  readonly outbound: readonly ListenAddress[];
  readonly inbound: readonly ListenAddress[];
  readonly inboundPlaintext: readonly ListenAddress[];
  readonly metrics?: ListenAddress;
  readonly readiness?: ListenAddress;
  readonly admin?: ListenAddress;
}

export interface ZtunnelOptions {
  readonly node: string;
  readonly trustDomain: string;
  readonly state: ZtunnelState;
  readonly fetchCertificate: CertificateFetcher;
  readonly logger: Logger;
  /** Where the per-connection access log goes (default: `logger` with `{target: 'access'}`). */
  readonly accessLogger?: Logger;
  readonly listen: ZtunnelListen;
  readonly originalDst: { readonly outbound: OriginalDstResolver; readonly inbound: OriginalDstResolver; readonly inboundPlaintext: OriginalDstResolver };
  /** This node's addresses (default: every interface address). */
  readonly localAddresses?: readonly string[];
  /** HBONE's HTTP/2 implementation, both ways (default `lean`: shared/h2). */
  readonly hboneEngine?: HboneEngine;
  readonly connectTimeoutMs?: number;
  readonly capture?: CaptureController;
  readonly registry?: Registry;
  /** Direct test tier: where an HBONE next hop really listens. */
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

export class Ztunnel {
  readonly connections = new ConnectionManager();
  readonly registry: Registry;
  readonly certs: CertStore;
  readonly pool: HbonePool;
  readonly hboneStats: HboneServerStats;
  readonly admin: AdminServers;
  /** Bound ports of the capture listeners, by role (tests listen on port 0). */
  readonly ports: { outbound: number[]; inbound: number[]; inboundPlaintext: number[] } = { outbound: [], inbound: [], inboundPlaintext: [] };
  private readonly opts: ZtunnelOptions;
  private readonly log: Logger;
  private readonly ctx: ZtunnelContext;
  private readonly inbound: HboneInbound;
  private readonly plaintext: PlaintextInbound;
  private readonly outbound: Outbound;
  private readonly listeners: net.Server[] = [];
  private readonly life = new ProxyLifecycle('ztunnel', ['config', 'certificates', 'listeners']);
  private readonly localIdentities = new Map<string, Identity>();
  private unsubscribe?: () => void;
  private captureRun = Promise.resolve();
  /** Connections closed because policy or workloads changed (for tests and /config_dump). */
  lateRejections = 0;

  constructor(opts: ZtunnelOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.registry = opts.registry ?? new Registry();
    this.certs = new CertStore({
      fetch: opts.fetchCertificate,
      onError: (id, err) => this.log.warn({ identity: formatIdentity(id), err: (err as Error).message }, 'certificate fetch failed; retrying with backoff'),
    });
    this.pool = new HbonePool({ logger: opts.logger, engine: opts.hboneEngine ?? 'lean', ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}) });
    this.hboneStats = new HboneServerStats(this.registry);
    const localAddresses = new Set(opts.localAddresses ?? Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address)));
    this.ctx = {
      node: opts.node,
      trustDomain: opts.trustDomain,
      state: opts.state,
      certs: this.certs,
      connections: this.connections,
      metrics: new TcpMetrics(this.registry, { component: 'ztunnel', tag: 'ambit-0.1.0' }),
      log: opts.logger,
      accessLog: opts.accessLogger ?? opts.logger.child({ target: 'access' }),
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      localAddresses,
    };
    if (opts.capture) this.life.pending.add('capture');
    this.inbound = new HboneInbound(this.ctx, opts.originalDst.inbound, this.hboneStats, opts.hboneEngine ?? 'lean');
    this.plaintext = new PlaintextInbound(this.ctx, opts.originalDst.inboundPlaintext);
    this.outbound = new Outbound(this.ctx, this.pool, opts.originalDst.outbound, opts.mapNextHop ? { mapNextHop: opts.mapNextHop } : {});
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

  /** Binds every listener; configuration, certificates and capture follow in the background. */
  async start(): Promise<void> {
    await this.admin.start();
    const bind = async (addrs: readonly ListenAddress[], onSocket: (s: net.Socket) => void, into: number[], allowHalfOpen: boolean): Promise<void> => {
      for (const a of addrs) into.push(await this.listen(a, onSocket, allowHalfOpen));
    };
    // Relayed plain TCP keeps half-close; HBONE half-closes streams inside HTTP/2, so a FIN on the
    // 15008 transport means the peer is gone: with allowHalfOpen the TLS/HTTP/2 session (and every
    // stream and upstream app connection in it) would stay open until the keepalive noticed.
    await bind(this.opts.listen.outbound, (s) => this.outbound.accept(s), this.ports.outbound, true);
    await bind(this.opts.listen.inbound, (s) => this.inbound.accept(s), this.ports.inbound, false);
    await bind(this.opts.listen.inboundPlaintext, (s) => this.plaintext.accept(s), this.ports.inboundPlaintext, true);
    this.life.pending.delete('listeners');
    this.unsubscribe = this.opts.state.onChange((view, change) => this.onStateChange(view, change));
    void this.opts.state.ready().then(() => {
      if (this.life.draining) return;
      this.life.pending.delete('config');
      this.log.info({ version: this.opts.state.current.version, local: this.opts.state.localWorkloads(this.opts.node).length }, 'first configuration received');
      this.onStateChange(this.opts.state.current, { workloads: true, services: true, authorizations: true });
    });
  }

  /** Resolves when /healthz/ready would answer 200. */
  ready(timeoutMs = 30_000): Promise<void> {
    return this.life.waitReady(timeoutMs);
  }

  pendingReadiness(): string[] {
    return [...this.life.pending];
  }

  private async listen(addr: ListenAddress, onSocket: (s: net.Socket) => void, allowHalfOpen: boolean): Promise<number> {
    const l = await listenTcp(addr, {
      allowHalfOpen,
      logger: this.log,
      onSocket: (socket) => {
        if (this.life.draining) return void socket.destroy();
        onSocket(socket);
      },
    });
    this.listeners.push(l.server);
    return l.port;
  }

  private onStateChange(view: StateView, change: StateChange): void {
    if (this.life.draining || this.life.pending.has('config')) return;
    if (change.workloads) {
      this.syncCertificates();
      this.syncCapture();
    }
    if (change.authorizations || change.workloads) {
      const closed = this.connections.recheck((c) => {
        if (c.direction === 'outbound') return undefined;
        const check = checkInbound(view, this.opts.node, {
          ...(c.peer ? { peer: c.peer } : {}),
          sourceIp: c.src.ip,
          destinationIp: c.originalDst.ip,
          destinationPort: c.originalDst.port,
        });
        return check.ok ? undefined : `connection closed due to policy change: ${check.reason}${check.policy ? ` by ${check.policy}` : ''}`;
      });
      if (closed > 0) {
        this.lateRejections += closed;
        this.log.info({ closed, version: view.version }, 'AuthorizationPolicyLateRejection: connections closed due to policy change');
      }
    }
  }

  /** Fetches certificates for identities that gained a local pod, forgets those that lost all. */
  private syncCertificates(): void {
    const wanted = new Map<string, Identity>();
    for (const w of this.opts.state.localWorkloads(this.opts.node)) {
      const id = identityOf(w);
      wanted.set(formatIdentity(id), id);
    }
    for (const [key, id] of this.localIdentities) {
      if (!wanted.has(key)) {
        this.certs.forget(id);
        this.localIdentities.delete(key);
      }
    }
    const fetches: Promise<unknown>[] = [];
    for (const [key, id] of wanted) {
      if (!this.localIdentities.has(key)) this.localIdentities.set(key, id);
      if (!this.certs.peek(id)) fetches.push(this.certs.get(id));
    }
    if (this.life.pending.has('certificates')) {
      void Promise.allSettled(fetches).then((results) => {
        const failed = results.filter((r) => r.status === 'rejected').length;
        if (failed === 0) this.life.pending.delete('certificates');
        else {
          this.log.warn({ failed }, 'initial certificates incomplete; not ready yet');
          setTimeout(() => this.syncCertificates(), 1_000).unref();
        }
      });
    }
  }

  /** Capture rules follow the local enrolled pods; runs are serialized. */
  private syncCapture(): void {
    const capture = this.opts.capture;
    if (!capture) return;
    const ips = this.opts.state.localWorkloads(this.opts.node).flatMap((w) => w.addresses);
    this.captureRun = this.captureRun.then(() => capture.reconcile(ips)).then(
      () => void this.life.pending.delete('capture'),
      (err: unknown) => this.log.error({ err: (err as Error).message }, 'capture rules could not be reconciled'),
    );
  }

  /** SIGTERM: stop accepting, let open connections finish up to `deadlineMs`, then close the rest. */
  shutdown(deadlineMs = 5_000): Promise<void> {
    return this.life.stop(async () => {
      this.log.info({ connections: this.connections.size, deadlineMs }, 'draining');
      // Stop accepting; close()'s callback would wait for every accepted socket, which the drain handles.
      for (const s of this.listeners) s.close();
      this.inbound.server.drain();
      const left = await this.connections.waitForDrain(deadlineMs);
      if (left > 0) this.log.warn({ left }, 'drain deadline reached; closing the remaining connections');
      this.connections.closeAll('ztunnel shutting down');
      await this.inbound.server.close(0);
      await this.pool.close();
      this.unsubscribe?.();
      await this.captureRun;
      if (this.opts.capture) {
        await this.opts.capture.remove().catch((err: unknown) => this.log.error({ err: (err as Error).message }, 'capture rules could not be removed'));
      }
      await this.admin.close();
      this.certs.close();
      this.opts.state.close();
      this.log.info('ztunnel stopped');
    });
  }

  /** Called once shutdown() (SIGTERM, /quitquitquit) has finished. */
  onStopped(listener: () => void): void {
    this.life.onStopped(listener);
  }

  configDump(): unknown {
    const view = this.opts.state.current;
    const now = Date.now();
    return {
      node: this.opts.node,
      version: view.version,
      ready: this.life.pending.size === 0,
      pendingReadiness: [...this.life.pending],
      workloads: [...view.index.workloadByUid.values()],
      services: [...view.index.serviceByKey.values()],
      policies: [...view.authorizations.values()],
      certificates: [...this.localIdentities.values()].map((id) => {
        const c = this.certs.peek(id);
        return c
          ? { identity: formatIdentity(id), state: 'Available', serial: c.serialHex, notBefore: new Date(c.notBeforeMs).toISOString(), expiry: new Date(c.notAfterMs).toISOString(), expiresInSeconds: Math.round((c.notAfterMs - now) / 1000) }
          : { identity: formatIdentity(id), state: 'Unavailable' };
      }),
      connections: this.connections.list().map((c) => ({
        id: c.id,
        direction: c.direction,
        protocol: c.protocol,
        src: c.src,
        originalDst: c.originalDst,
        actualDst: c.actualDst,
        ...(c.peer ? { peer: formatIdentity(c.peer) } : {}),
        ageSeconds: Math.round((now - c.openedAtMs) / 1000),
      })),
      lateRejections: this.lateRejections,
    };
  }
}
