// Outbound (15001): a captured connection from a local enrolled pod. The source workload is found
// by source IP (unknown → reset, logged); buildRequest() makes the plan; this executes it: HBONE
// through the pool with the source workload's certificate and the expected peer identities, or
// plain TCP passthrough for destinations outside the mesh. Failures reset the client.
import type { Socket } from 'node:net';
import { isMeshError, ErrorCode } from '../../shared/errors.js';
import { buildConnectHeaders } from '../../shared/hbone/connect-headers.js';
import type { HbonePool, HboneTunnelStream } from '../../shared/hbone/pool.js';
import { connectTcp } from '../../shared/net/connect.js';
import type { ResponseFlag } from '../../shared/telemetry/tcp-metrics.js';
import { workloadName } from '../../shared/telemetry/tcp-metrics.js';
import { identityOf, type ZtunnelContext } from '../context.js';
import { plainIp, type OriginalDstResolver, type SocketAddress } from '../orig-dst.js';
import { ConnectionTelemetry, relayTracked } from '../telemetry.js';
import { buildRequest, type OutboundRequest } from './build-request.js';

export interface OutboundOptions {
  /** Rewrites an HBONE next hop before connecting (the direct test tier maps pod IPs to listeners). */
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

function flagFor(err: unknown): ResponseFlag {
  if (isMeshError(err, ErrorCode.HboneStatus)) return (err as { status?: number }).status === 401 ? 'DENY' : 'CONNECT';
  if (isMeshError(err, ErrorCode.HboneConnect) && /certificate|identity|handshake|tls/i.test((err as Error).message)) return 'TLS_FAILURE';
  return 'CONNECT';
}

/** One listener for every captured socket (the relay reports errors), not a closure per connection. */
function ignoreError(): void {}

export class Outbound {
  private readonly ctx: ZtunnelContext;
  private readonly pool: HbonePool;
  private readonly originalDst: OriginalDstResolver;
  private readonly opts: OutboundOptions;

  constructor(ctx: ZtunnelContext, pool: HbonePool, originalDst: OriginalDstResolver, opts: OutboundOptions = {}) {
    this.ctx = ctx;
    this.pool = pool;
    this.originalDst = originalDst;
    this.opts = opts;
  }

  accept(socket: Socket): void {
    socket.on('error', ignoreError);
    socket.pause();
    socket.setNoDelay(true);
    void this.handle(socket);
  }

  private async handle(socket: Socket): Promise<void> {
    const ctx = this.ctx;
    const view = ctx.state.current;
    const src: SocketAddress = { ip: plainIp(socket.remoteAddress) ?? '0.0.0.0', port: socket.remotePort ?? 0 };
    const dst = this.originalDst(socket);
    if (!dst) {
      ctx.log.warn({ src }, 'outbound: no original destination; connection reset');
      socket.resetAndDestroy();
      return;
    }
    const source = view.index.workloadByIp.get(src.ip);
    const plan: OutboundRequest = source && source.node !== ctx.node
      ? { kind: 'refuse', reason: 'unknown_source' }
      : buildRequest(view.index, src.ip, dst, { localAddresses: ctx.localAddresses });
    const tel = new ConnectionTelemetry({
      direction: 'outbound',
      src,
      ...(source ? { srcWorkload: source, srcIdentity: identityOf(source) } : {}),
      dst: plan.kind === 'hbone' ? { ip: plan.nextHop.host, port: plan.nextHop.port } : plan.kind === 'passthrough' ? { ip: plan.target.host, port: plan.target.port } : dst,
      ...(plan.kind === 'hbone' ? { hboneAddr: plan.authority } : {}),
      ...(plan.kind !== 'refuse' && plan.service ? { dstService: plan.service } : {}),
      ...(plan.kind === 'hbone' && plan.destinationWorkload ? { dstWorkload: plan.destinationWorkload } : {}),
      ...(plan.kind === 'hbone' ? { dstIdentity: plan.expectedIdentities[0]! } : {}),
      mtls: plan.kind === 'hbone',
    }, ctx.metrics, ctx.accessLog);

    if (plan.kind === 'refuse') {
      ctx.log.warn({ src, dst, reason: plan.reason }, 'outbound connection refused');
      tel.fail('-', plan.reason);
      socket.resetAndDestroy();
      return;
    }
    let upstream: Socket | HboneTunnelStream | undefined;
    let closedReason: string | undefined;
    // Only a passthrough connect takes an abort signal; an HBONE CONNECT has its own deadline in
    // the pool, and a close() meanwhile is acted on once it settles. Without a signal the pool
    // skips its own AbortController, and none is kept for the connection's life (~0.7 KB each).
    let abort: AbortController | undefined;
    const tracked = ctx.connections.register({
      direction: 'outbound',
      src,
      originalDst: dst,
      actualDst: plan.kind === 'hbone' ? { ip: plan.nextHop.host, port: plan.nextHop.port } : { ip: plan.target.host, port: plan.target.port },
      protocol: plan.kind === 'hbone' ? 'HBONE' : 'TCP',
      ...(source ? { peer: identityOf(source) } : {}),
      close: (reason) => {
        closedReason = reason;
        abort?.abort();
        if (!socket.destroyed) socket.resetAndDestroy();
        if (upstream && !upstream.destroyed) upstream.destroy();
      },
    });
    try {
      if (plan.kind === 'passthrough') {
        abort = new AbortController();
        upstream = await connectTcp({ host: plan.target.host, port: plan.target.port, timeoutMs: ctx.connectTimeoutMs, signal: abort.signal });
      } else {
        const cert = await ctx.certs.get(identityOf(source!));
        const hop = this.opts.mapNextHop ? this.opts.mapNextHop(plan.nextHop) : plan.nextHop;
        const stream = await this.pool.connect({
          source: cert,
          expectedIdentities: plan.expectedIdentities,
          nextHop: hop,
          authority: plan.authority,
          headers: buildConnectHeaders({
            sourceIp: src.ip,
            sourcePort: src.port,
            ...(plan.service ? { serviceHostname: plan.service.hostname } : {}),
            baggage: { namespace: source!.namespace, workloadName: workloadName(source!), serviceName: source!.canonicalName, serviceVersion: source!.canonicalRevision },
          }),
          timeoutMs: ctx.connectTimeoutMs,
        });
        if (closedReason !== undefined) {
          stream.destroy();
          throw new Error(closedReason);
        }
        upstream = stream;
      }
    } catch (err) {
      ctx.connections.release(tracked);
      ctx.log.info({ src, dst, err: (err as Error).message }, 'outbound connection failed');
      tel.fail(closedReason ? '-' : flagFor(err), closedReason ?? (err as Error).message);
      if (!socket.destroyed) socket.resetAndDestroy();
      return;
    }
    abort = undefined;
    relayTracked(ctx, tracked, tel, socket, upstream, () => closedReason);
  }
}
