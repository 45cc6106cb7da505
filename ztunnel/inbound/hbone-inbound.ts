// Inbound HBONE (15008): the certificate is chosen from the original destination before the TLS
// handshake (a connection to a pod this node does not host gets no handshake at all); each
// CONNECT must name that same pod (never an open relay), is registered, authorized (L4, the mTLS
// peer as source), connected to the pod, and only then answered 200 (facts §2.5).
import type { Socket } from 'node:net';
import { formatHboneAuthority } from '../../shared/hbone/authority.js';
import { HboneServer, type HboneConnectDecision, type HboneConnectRequest } from '../../shared/hbone/server.js';
import type { HboneServerStats } from '../../shared/hbone/server-stats.js';
import type { HboneEngine } from '../../shared/hbone/settings.js';
import { connectTcp } from '../../shared/net/connect.js';
import { RelayEnd } from '../../shared/net/relay.js';
import { identityOf, type ZtunnelContext } from '../context.js';
import { plainIp, type OriginalDstResolver } from '../orig-dst.js';
import { ConnectionTelemetry } from '../telemetry.js';
import { checkInbound, hboneClientIp, localWorkload } from './inbound-check.js';

export class HboneInbound {
  readonly server: HboneServer;
  private readonly ctx: ZtunnelContext;
  private readonly originalDst: OriginalDstResolver;

  constructor(ctx: ZtunnelContext, originalDst: OriginalDstResolver, stats?: HboneServerStats, engine: HboneEngine = 'lean') {
    this.ctx = ctx;
    this.originalDst = originalDst;
    this.server = new HboneServer({
      trustDomain: ctx.trustDomain,
      logger: ctx.log,
      engine,
      onConnect: (req) => this.onConnect(req),
      ...(stats ? { stats } : {}),
    });
  }

  /** Takes one accepted socket of the 15008 listener. Never throws. */
  accept(socket: Socket): void {
    socket.on('error', () => undefined);
    const dst = this.originalDst(socket);
    const workload = dst ? localWorkload(this.ctx.state.current, this.ctx.node, dst.ip) : undefined;
    if (!dst || !workload) {
      // No certificate to present: the client gets a reset before any TLS.
      this.ctx.log.info({ src: plainIp(socket.remoteAddress), dst }, 'inbound hbone: original destination is not a local workload');
      socket.resetAndDestroy();
      return;
    }
    const identity = identityOf(workload);
    const cert = this.ctx.certs.peek(identity);
    if (cert) return this.server.handleSocket(socket, cert, { originalDst: dst });
    this.ctx.certs.get(identity).then(
      (c) => {
        if (!socket.destroyed) this.server.handleSocket(socket, c, { originalDst: dst });
      },
      (err: unknown) => {
        this.ctx.log.warn({ err: (err as Error).message, workload: workload.uid }, 'inbound hbone: no certificate for the destination; connection refused');
        socket.resetAndDestroy();
      },
    );
  }

  private async onConnect(req: HboneConnectRequest): Promise<HboneConnectDecision> {
    const ctx = this.ctx;
    const view = ctx.state.current;
    const target = req.authority;
    const original = req.context.originalDst;
    const sourceIp = hboneClientIp(view, req.peer, req.headers['forwarded'], plainIp(req.remoteAddress));
    const srcWorkload = view.index.workloadByIp.get(sourceIp);
    const dstWorkload = view.index.workloadByIp.get(target.ip);
    const tel = new ConnectionTelemetry({
      direction: 'inbound',
      src: { ip: sourceIp, port: 0 },
      ...(srcWorkload ? { srcWorkload } : {}),
      srcIdentity: req.peer,
      dst: { ip: target.ip, port: target.port },
      hboneAddr: formatHboneAuthority(target),
      ...(dstWorkload ? { dstWorkload, dstIdentity: identityOf(dstWorkload) } : {}),
      mtls: true,
    }, ctx.metrics, ctx.accessLog);

    // ztunnel's validate_destination: the authority must be the pod this connection was sent to.
    if (!original || original.ip !== target.ip) {
      tel.fail('-', 'authority does not match the original destination');
      return { status: 400, reason: 'authority_mismatch' };
    }
    // Needed only while connecting to the pod; dropped after so none is kept per open connection.
    let abort: AbortController | undefined = new AbortController();
    const onClientAbort = (): void => abort?.abort();
    req.signal.addEventListener('abort', onClientAbort, { once: true });
    let upstream: Socket | undefined;
    let closedReason: string | undefined;
    // Registered before the policy check, so a policy change can never fall in between.
    const tracked = ctx.connections.register({
      direction: 'inbound',
      src: { ip: sourceIp, port: 0 },
      originalDst: { ip: target.ip, port: target.port },
      actualDst: { ip: target.ip, port: target.port },
      protocol: 'HBONE',
      peer: req.peer,
      ...(dstWorkload ? { workloadUid: dstWorkload.uid } : {}),
      close: (reason) => {
        closedReason = reason;
        abort?.abort();
        if (upstream && !upstream.destroyed) upstream.resetAndDestroy();
      },
    });
    const check = checkInbound(view, ctx.node, { peer: req.peer, sourceIp, destinationIp: target.ip, destinationPort: target.port });
    if (!check.ok) {
      ctx.connections.release(tracked);
      const why = check.policy ? `${check.reason} by ${check.policy}` : check.reason;
      if (check.status === 401) ctx.log.info({ peer: req.peer, dst: formatHboneAuthority(target), reason: check.reason, policy: check.policy }, 'inbound connection denied by policy');
      tel.fail(check.status === 401 ? 'DENY' : '-', why);
      return { status: check.status, reason: why };
    }
    logDryRun(ctx, check.decision.dryRun, formatHboneAuthority(target));
    try {
      upstream = await connectTcp({ host: target.ip, port: target.port, timeoutMs: ctx.connectTimeoutMs, signal: abort.signal });
      abort = undefined;
      req.signal.removeEventListener('abort', onClientAbort);
    } catch (err) {
      ctx.connections.release(tracked);
      if (closedReason) {
        tel.fail('DENY', closedReason);
        return { status: 401, reason: closedReason };
      }
      tel.fail('CONNECT', `upstream connect failed: ${(err as Error).message}`);
      return { status: 503, reason: 'upstream_connect_failed' };
    }
    tel.open();
    return {
      status: 200,
      upstream,
      onDone: (r) => {
        ctx.connections.release(tracked);
        const error = closedReason ?? (r.end === RelayEnd.Completed ? undefined : r.error?.message ?? r.end);
        tel.end({ sent: r.bytesBtoA, received: r.bytesAtoB }, error);
      },
    };
  }
}

export function logDryRun(ctx: ZtunnelContext, dryRun: readonly { policy: string; action: string; matched: boolean }[], dst: string): void {
  for (const d of dryRun) {
    if (d.matched) ctx.log.info({ policy: d.policy, action: d.action, dst }, 'dry-run policy matched (not enforced)');
  }
}
