// Inbound plaintext (15006): a client outside the mesh (or a non-enrolled pod) connecting to an
// enrolled pod. Allowed unless STRICT PeerAuthentication applies to that workload and port (folded
// into a DENY on "no identity"), then L4 policy with no identity; refused connections are reset.
import type { Socket } from 'node:net';
import { connectTcp } from '../../shared/net/connect.js';
import { identityOf, type ZtunnelContext } from '../context.js';
import { plainIp, type OriginalDstResolver } from '../orig-dst.js';
import { ConnectionTelemetry, relayTracked } from '../telemetry.js';
import { logDryRun } from './hbone-inbound.js';
import { checkInbound } from './inbound-check.js';

/** One listener for every accepted socket (the relay reports errors), not a closure per connection. */
function ignoreError(): void {}

export class PlaintextInbound {
  private readonly ctx: ZtunnelContext;
  private readonly originalDst: OriginalDstResolver;

  constructor(ctx: ZtunnelContext, originalDst: OriginalDstResolver) {
    this.ctx = ctx;
    this.originalDst = originalDst;
  }

  accept(socket: Socket): void {
    socket.on('error', ignoreError);
    socket.pause();
    void this.handle(socket);
  }

  private async handle(socket: Socket): Promise<void> {
    const ctx = this.ctx;
    const view = ctx.state.current;
    const src = { ip: plainIp(socket.remoteAddress) ?? '0.0.0.0', port: socket.remotePort ?? 0 };
    const dst = this.originalDst(socket);
    if (!dst) {
      ctx.log.warn({ src }, 'inbound plaintext: no original destination; connection reset');
      socket.resetAndDestroy();
      return;
    }
    const srcWorkload = view.index.workloadByIp.get(src.ip);
    const dstWorkload = view.index.workloadByIp.get(dst.ip);
    const tel = new ConnectionTelemetry({
      direction: 'inbound',
      src,
      ...(srcWorkload ? { srcWorkload } : {}),
      dst,
      ...(dstWorkload ? { dstWorkload, dstIdentity: identityOf(dstWorkload) } : {}),
      mtls: false,
    }, ctx.metrics, ctx.accessLog);
    let upstream: Socket | undefined;
    let closedReason: string | undefined;
    // Needed only while connecting; dropped after so none is kept per open connection.
    let abort: AbortController | undefined = new AbortController();
    const tracked = ctx.connections.register({
      direction: 'inbound_plaintext',
      src,
      originalDst: dst,
      actualDst: dst,
      protocol: 'TCP',
      ...(dstWorkload ? { workloadUid: dstWorkload.uid } : {}),
      close: (reason) => {
        closedReason = reason;
        abort?.abort();
        if (!socket.destroyed) socket.resetAndDestroy();
        if (upstream && !upstream.destroyed) upstream.resetAndDestroy();
      },
    });
    const check = checkInbound(view, ctx.node, { sourceIp: src.ip, destinationIp: dst.ip, destinationPort: dst.port });
    if (!check.ok) {
      ctx.connections.release(tracked);
      const why = check.policy ? `${check.reason} by ${check.policy}` : check.reason;
      ctx.log.info({ src, dst, reason: check.reason, policy: check.policy }, 'inbound plaintext connection refused');
      tel.fail(check.status === 401 ? 'DENY' : '-', why);
      socket.resetAndDestroy();
      return;
    }
    logDryRun(ctx, check.decision.dryRun, `${dst.ip}:${dst.port}`);
    try {
      upstream = await connectTcp({ host: dst.ip, port: dst.port, timeoutMs: ctx.connectTimeoutMs, signal: abort.signal });
      abort = undefined;
    } catch (err) {
      ctx.connections.release(tracked);
      tel.fail(closedReason ? 'DENY' : 'CONNECT', closedReason ?? `upstream connect failed: ${(err as Error).message}`);
      if (!socket.destroyed) socket.resetAndDestroy();
      return;
    }
    relayTracked(ctx, tracked, tel, socket, upstream, () => closedReason);
  }
}
