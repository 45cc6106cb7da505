// Per-connection telemetry of ztunnel (facts §7.1–7.2): Istio's TCP metrics with reporter
// `source` (outbound) or `destination` (inbound), and exactly one access-log line per connection
// when it ends — INFO on success, ERROR with `error` on failure (early refusals included).
import type { Socket } from 'node:net';
import type { Service, Workload } from '../shared/config/model.js';
import { relayThen, RelayEnd, type RelaySide } from '../shared/net/relay.js';
import { identityUri, type Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import { trafficLabels, workloadName, type ResponseFlag, type TcpMetrics, type TrafficLabels } from '../shared/telemetry/tcp-metrics.js';
import type { ConnectionManager, TrackedConnection } from './connection-manager.js';
import type { SocketAddress } from './orig-dst.js';

const fmt = (a: SocketAddress | undefined): string | undefined => (a === undefined ? undefined : a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`);

export interface ConnectionFacts {
  readonly direction: 'inbound' | 'outbound';
  readonly src: SocketAddress;
  readonly srcWorkload?: Workload;
  /** The mTLS peer (inbound) or the source workload's identity (outbound HBONE). */
  readonly srcIdentity?: Identity;
  /** The L4 next hop ztunnel connected to (`…:15008` for HBONE), or the original destination. */
  readonly dst: SocketAddress;
  /** The CONNECT authority, for HBONE. */
  readonly hboneAddr?: string;
  readonly dstService?: Service;
  readonly dstWorkload?: Workload;
  readonly dstIdentity?: Identity;
  readonly mtls: boolean;
}

/** One connection's telemetry: open() once established, then end(); or fail() if it never was. */
export class ConnectionTelemetry {
  private readonly facts: ConnectionFacts;
  private readonly metrics: TcpMetrics;
  private readonly log: Logger;
  private readonly startedAt = Date.now();
  /** The labels are built again at the end rather than kept: ~0.3 KB less per open connection. */
  private opened = false;
  private finished = false;

  constructor(facts: ConnectionFacts, metrics: TcpMetrics, accessLog: Logger) {
    this.facts = facts;
    this.metrics = metrics;
    this.log = accessLog;
  }

  private labelsFor(flag: ResponseFlag): TrafficLabels {
    const f = this.facts;
    return trafficLabels({
      reporter: f.direction === 'outbound' ? 'source' : 'destination',
      ...(f.srcWorkload ? { source: f.srcWorkload } : {}),
      ...(f.srcIdentity ? { sourcePrincipal: f.srcIdentity } : {}),
      ...(f.dstWorkload ? { destination: f.dstWorkload } : {}),
      ...(f.dstIdentity ? { destinationPrincipal: f.dstIdentity } : {}),
      ...(f.dstService ? { service: f.dstService } : {}),
      mtls: f.mtls,
      flag,
    });
  }

  open(): void {
    if (this.opened || this.finished) return;
    this.opened = true;
    this.metrics.open(this.labelsFor('-'));
    if (this.log.isLevelEnabled('debug')) this.log.debug(this.fields(), 'connection opened');
  }

  /** The established connection ended. `error` set means it ended badly (reset, policy change...). */
  end(bytes: { sent: number; received: number }, error?: string): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.opened) this.open();
    this.metrics.close(this.labelsFor('-'), bytes);
    if (!this.log.isLevelEnabled(error ? 'error' : 'info')) return;
    const fields = { ...this.fields(), bytes_sent: bytes.sent, bytes_recv: bytes.received, duration: `${Date.now() - this.startedAt}ms` };
    if (error) this.log.error({ ...fields, error }, 'connection complete');
    else this.log.info(fields, 'connection complete');
  }

  /** The connection was refused or could not be established. */
  fail(flag: ResponseFlag, error: string): void {
    if (this.finished) return;
    this.finished = true;
    this.metrics.fail(this.labelsFor(flag));
    this.log.error({ ...this.fields(), bytes_sent: 0, bytes_recv: 0, duration: `${Date.now() - this.startedAt}ms`, error }, 'connection failed');
  }

  private fields(): Record<string, unknown> {
    const f = this.facts;
    const out: Record<string, unknown> = { direction: f.direction, 'src.addr': fmt(f.src) };
    if (f.srcWorkload) {
      out['src.workload'] = workloadName(f.srcWorkload);
      out['src.namespace'] = f.srcWorkload.namespace;
    }
    if (f.srcIdentity) out['src.identity'] = identityUri(f.srcIdentity);
    out['dst.addr'] = fmt(f.dst);
    if (f.hboneAddr) out['dst.hbone_addr'] = f.hboneAddr;
    if (f.dstService) out['dst.service'] = f.dstService.hostname;
    if (f.dstWorkload) {
      out['dst.workload'] = workloadName(f.dstWorkload);
      out['dst.namespace'] = f.dstWorkload.namespace;
    }
    if (f.dstIdentity) out['dst.identity'] = identityUri(f.dstIdentity);
    return out;
  }
}

/**
 * The established half of a connection: relays client and upstream, then releases the tracked
 * connection and records its end (`closedReason()` set means ztunnel closed it, e.g. policy).
 * Returns at once; the end is recorded when the relay settles.
 */
export function relayTracked(
  ctx: { readonly connections: ConnectionManager },
  tracked: TrackedConnection,
  tel: ConnectionTelemetry,
  client: Socket,
  upstream: RelaySide,
  closedReason: () => string | undefined,
): void {
  if (client.destroyed) {
    ctx.connections.release(tracked);
    upstream.destroy();
    tel.fail('-', closedReason() ?? 'client closed before the upstream connected');
    return;
  }
  tel.open();
  // No async function stays suspended for the connection's life (a generator and its promise
  // chain per connection); the relay's settlement alone carries the rest.
  relayThen(client, upstream, (r) => {
    ctx.connections.release(tracked);
    tel.end({ sent: r.bytesBtoA, received: r.bytesAtoB }, closedReason() ?? (r.end === RelayEnd.Completed ? undefined : r.error?.message ?? r.end));
  });
}
