// WaypointInbound: the waypoint's HBONE listener (15008). Each CONNECT names a destination this
// waypoint fronts (buildDestination; anything else is refused with 400, never relayed); after the
// 200 the tunnel's first bytes say what it carries (the service port's declared appProtocol
// first): HTTP/1.1 to the waypoint's own HTTP/1.1 server (h1-downstream.ts), HTTP/2 to a session per tunnel, anything else to
// the TCP path with L4 policy only. The client's identity is the mTLS peer (the client ztunnel
// presents the client's certificate), its address the verified `forwarded for=`.
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { ModelIndex } from '../shared/config/model-index.js';
import { hboneClientIp } from '../shared/hbone/forwarded-client.js';
import { HboneServer, type HboneConnectDecision, type HboneConnectRequest } from '../shared/hbone/server.js';
import type { HboneServerStats } from '../shared/hbone/server-stats.js';
import type { Identity } from '../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../shared/identity/workload-certificate.js';
import type { Logger } from '../shared/log.js';
import { StreamAdapter } from '../shared/net/stream-adapter.js';
import { buildDestination, type Destination } from './destination.js';
import { http2Request, type RequestContext } from './downstream.js';
import { serveHttp1 } from './h1-downstream.js';
import { detectProtocol, type DetectedProtocol } from './protocol-detect.js';

/** What every request on one tunnel shares. */
export interface TunnelContext {
  readonly peer: Identity;
  readonly clientIp: string;
  readonly destination: Exclude<Destination, { kind: 'refuse' }>;
}

export interface WaypointInboundOptions {
  readonly trustDomain: string;
  /** `namespace/name` of this waypoint's Gateway. */
  readonly gateway: string;
  readonly index: () => ModelIndex;
  readonly certificate: () => WorkloadCertificate | undefined;
  readonly logger: Logger;
  readonly stats?: HboneServerStats;
  readonly onRequest: (tunnel: TunnelContext, req: RequestContext) => void;
  readonly onTcp: (tunnel: TunnelContext, stream: ServerHttp2Stream) => void;
  /** How long a silent tunnel may wait before it is treated as TCP (server-first protocols). */
  readonly detectTimeoutMs?: number;
  /** HTTP/1 request headers must be complete within this (slowloris; default 10 s). */
  readonly headersTimeoutMs?: number;
  /** An HTTP connection inside a tunnel with no request for this long is closed (default 60 s). */
  readonly idleTimeoutMs?: number;
}

const declaredProtocol = (appProtocol: string | undefined): DetectedProtocol | undefined => {
  const p = appProtocol?.toLowerCase();
  if (p === 'http' || p === 'http1' || p === 'kubernetes.io/http') return 'http1';
  if (p === 'http2' || p === 'grpc' || p === 'kubernetes.io/h2c') return 'http2';
  if (p === 'tcp' || p === 'mysql' || p === 'mongo' || p === 'redis' || p === 'tls') return 'tcp';
  return undefined;
};

export class WaypointInbound {
  readonly server: HboneServer;
  private readonly opts: WaypointInboundOptions;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(opts: WaypointInboundOptions) {
    this.opts = opts;
    // The waypoint terminates tunnels itself (`take`): its HTTP parsers need Node's Duplex streams.
    this.server = new HboneServer({ trustDomain: opts.trustDomain, logger: opts.logger, engine: 'node', onConnect: (req) => this.onConnect(req), ...(opts.stats ? { stats: opts.stats } : {}) });
  }

  /** Takes one accepted socket of the 15008 listener (the waypoint has one certificate). */
  accept(socket: Socket): void {
    socket.on('error', () => undefined);
    const cert = this.opts.certificate();
    if (!cert) return void socket.resetAndDestroy();
    this.server.handleSocket(socket, cert);
  }

  async close(): Promise<void> {
    this.server.drain();
    for (const s of this.sessions) s.destroy();
    await this.server.close(0);
  }

  private async onConnect(req: HboneConnectRequest): Promise<HboneConnectDecision> {
    const index = this.opts.index();
    const destination = buildDestination(index, this.opts.gateway, req.authority);
    if (destination.kind === 'refuse') return { status: destination.status, reason: destination.reason };
    const tunnel: TunnelContext = { peer: req.peer, clientIp: hboneClientIp(index, req.peer, req.headers['forwarded'], req.remoteAddress), destination };
    return { status: 200, take: (stream) => this.dispatch(tunnel, stream) };
  }

  private dispatch(tunnel: TunnelContext, stream: ServerHttp2Stream): void {
    stream.on('error', () => undefined);
    const declared = tunnel.destination.kind === 'service' ? declaredProtocol(tunnel.destination.port.appProtocol) : undefined;
    if (declared) return this.run(declared, tunnel, stream);
    let seen: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => decide(true), this.opts.detectTimeoutMs ?? 1_000);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const p = detectProtocol(seen);
      if (p) finish(p);
    };
    const decide = (ended: boolean): void => finish(detectProtocol(seen, ended) ?? 'tcp');
    const onEnd = (): void => decide(true);
    const finish = (p: DetectedProtocol): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.pause();
      if (seen.length > 0) stream.unshift(seen);
      this.run(p, tunnel, stream);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
  }

  private run(protocol: DetectedProtocol, tunnel: TunnelContext, stream: ServerHttp2Stream): void {
    if (stream.destroyed) return;
    if (protocol === 'tcp') return this.opts.onTcp(tunnel, stream);
    if (protocol === 'http1') {
      return serveHttp1(stream, {
        logger: this.opts.logger,
        headersTimeoutMs: this.opts.headersTimeoutMs ?? 10_000,
        idleTimeoutMs: this.opts.idleTimeoutMs ?? 60_000,
        onRequest: (req) => this.opts.onRequest(tunnel, req),
      });
    }
    const adapter = new StreamAdapter(stream, { address: tunnel.clientIp });
    adapter.on('error', () => undefined);
    const session = http2.performServerHandshake(adapter as unknown as Socket, { settings: { enablePush: false, maxConcurrentStreams: 1000 }, maxSessionMemory: 64 });
    this.sessions.add(session);
    session.on('error', () => undefined);
    // An idle inner session (a preface then silence, or no more requests) is closed with GOAWAY.
    session.setTimeout(this.opts.idleTimeoutMs ?? 60_000, () => session.close());
    session.once('close', () => this.sessions.delete(session));
    session.on('stream', (s: ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      s.on('error', () => undefined);
      this.opts.onRequest(tunnel, http2Request(s, headers, rawHeaders));
    });
  }
}
