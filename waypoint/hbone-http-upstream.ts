// HboneHttpUpstream: the waypoint's HTTP/1.1 client to endpoints, each request carried inside an
// HBONE tunnel to `podIP:15008` with authority `podIP:targetPort` (facts §6.2: the waypoint
// originates HBONE to the destination's ztunnel with its own identity). Tunnels are HTTP
// connections kept alive and reused (one node:http Agent per endpoint over the shared HbonePool),
// so a busy endpoint costs one CONNECT per concurrent request, not one per request.
import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Workload } from '../shared/config/model.js';
import type { HbonePool } from '../shared/hbone/pool.js';
import type { Identity } from '../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../shared/identity/workload-certificate.js';
import { StreamAdapter } from '../shared/net/stream-adapter.js';
import { responseHeaderList, type AttemptResult, type AttemptRunner } from './forwarder.js';
import type { AttemptOutcome } from './upstream/retry-policy.js';
import type { HeaderList } from './trace-headers.js';
import type { AbortLike } from './client-gone.js';

export interface Endpoint {
  readonly workload: Workload;
  readonly ip: string;
  readonly port: number;
}

export interface HboneHttpUpstreamOptions {
  readonly pool: HbonePool;
  /** The waypoint's own certificate (rotates; read per new tunnel). */
  readonly certificate: () => WorkloadCertificate | undefined;
  readonly hbonePort?: number;
  readonly connectTimeoutMs?: number;
  /** Direct test tier: where a pod's :15008 really listens. */
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

export interface UpstreamRequest {
  readonly method: string;
  readonly path: string;
  /** Node's raw header list `[name, value, name, value...]`, already modified by the route. */
  readonly headers: OutgoingHttpHeaders | readonly string[];
}

const identityOf = (w: Workload): Identity => ({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
const formatAddr = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** A node:http Agent whose "sockets" are HBONE CONNECT streams to one endpoint. */
class TunnelAgent extends http.Agent {
  private readonly open: (cb: (err: Error | null, socket?: Duplex) => void) => void;
  constructor(open: TunnelAgent['open']) {
    // No agent `timeout`: node:http adds a 'timeout' listener per request on a reused socket.
    // Idle tunnels end when the app closes its keep-alive connection, or when the endpoint leaves.
    super({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo' });
    this.open = open;
  }
  override createConnection(_opts: unknown, cb: (err: Error | null, socket?: Duplex) => void): undefined {
    this.open(cb);
    return undefined;
  }
}

export class HboneHttpUpstream implements AttemptRunner {
  private readonly opts: HboneHttpUpstreamOptions;
  private readonly agents = new Map<string, TunnelAgent>();
  /** Requests carried per tunnel, for maxRequestsPerConnection. */
  private readonly served = new WeakMap<Duplex, number>();

  constructor(opts: HboneHttpUpstreamOptions) {
    this.opts = opts;
  }

  static key(ep: Endpoint): string {
    return `${formatAddr(ep.ip, ep.port)}|${ep.workload.uid}`;
  }

  /** Starts a request to `ep`; the caller writes the body, handles 'response'/'error', and ends it. */
  request(ep: Endpoint, req: UpstreamRequest): ClientRequest {
    const agent = this.agentFor(ep);
    return http.request({
      agent,
      host: ep.ip,
      port: ep.port,
      method: req.method,
      path: req.path,
      headers: req.headers as OutgoingHttpHeaders,
      setHost: false,
    });
  }

  /**
   * One HTTP/1.1 attempt: resolves when the response head arrived (body not read) or it failed.
   * `maxRequestsPerConnection` (DestinationRule connectionPool): a tunnel that has carried that many
   * requests is closed once its last response ends, as Envoy does.
   */
  attempt(ep: Endpoint, r: { readonly method: string; readonly path: string; readonly headers: HeaderList; readonly maxRequestsPerConnection?: number }, body: Buffer | Readable, timeoutMs: number | undefined, aborted: AbortLike): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const raw: string[] = [];
      for (const [n, v] of r.headers) raw.push(n, v);
      const req = this.request(ep, { method: r.method, path: r.path, headers: raw });
      let settled = false;
      let connected = false;
      const done = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        aborted.removeEventListener('abort', onAbort);
        resolve(result);
      };
      // The per-try timeout covers the response head (Envoy's per_try_timeout); the route's
      // overall timeout is the caller's deadline.
      const timer = timeoutMs !== undefined ? setTimeout(() => {
        req.destroy();
        done({ outcome: { kind: 'per-try-timeout' } });
      }, Math.max(0, timeoutMs)) : undefined;
      const onAbort = (): void => {
        req.destroy();
        done({ outcome: { kind: 'reset' } });
      };
      aborted.addEventListener('abort', onAbort, { once: true });
      req.once('socket', (socket: Duplex) => {
        connected = true;
        const limit = r.maxRequestsPerConnection;
        if (!limit) return;
        const n = (this.served.get(socket) ?? 0) + 1;
        this.served.set(socket, n);
        if (n >= limit) req.shouldKeepAlive = false; // node:http sends `connection: close` and drops it after the response
      });
      req.on('error', () => done({ outcome: { kind: connected ? 'reset' : 'connect-failure' } }));
      req.once('response', (res: IncomingMessage) => {
        if (settled) return void res.resume();
        const grpc = res.headers['grpc-status'];
        const outcome: AttemptOutcome = { kind: 'response', status: res.statusCode ?? 502, ...(typeof grpc === 'string' && /^\d+$/.test(grpc) ? { grpcStatus: Number(grpc) } : {}) };
        done({ outcome, response: { headers: responseHeaderList(res), body: res, trailers: () => trailerList(res) } });
      });
      if (Buffer.isBuffer(body)) req.end(body);
      else body.pipe(req);
    });
  }

  /** Closes the kept tunnels of endpoints no longer in `liveKeys` (they left the model). */
  retain(liveKeys: ReadonlySet<string>): void {
    for (const [key, agent] of this.agents) {
      if (!liveKeys.has(key)) {
        agent.destroy();
        this.agents.delete(key);
      }
    }
  }

  /** Tunnels open (in use or idle), for tests and /config_dump. */
  openTunnels(): number {
    let n = 0;
    for (const a of this.agents.values()) {
      for (const list of Object.values(a.sockets)) n += list?.length ?? 0;
      for (const list of Object.values(a.freeSockets)) n += list?.length ?? 0;
    }
    return n;
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  private agentFor(ep: Endpoint): TunnelAgent {
    const key = HboneHttpUpstream.key(ep);
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new TunnelAgent((cb) => this.openTunnel(ep, cb));
      this.agents.set(key, agent);
    }
    return agent;
  }

  private openTunnel(ep: Endpoint, cb: (err: Error | null, socket?: Duplex) => void): void {
    const source = this.opts.certificate();
    if (!source) return cb(new Error('waypoint certificate not available'));
    const hop = { host: ep.ip, port: this.opts.hbonePort ?? 15008 };
    this.opts.pool
      .connect({
        source,
        expectedIdentities: [identityOf(ep.workload)],
        nextHop: this.opts.mapNextHop ? this.opts.mapNextHop(hop) : hop,
        authority: formatAddr(ep.ip, ep.port),
        ...(this.opts.connectTimeoutMs ? { timeoutMs: this.opts.connectTimeoutMs } : {}),
      })
      .then(
        (stream) => cb(null, new StreamAdapter(stream, { address: ep.ip, port: ep.port })),
        (err: Error) => cb(err),
      );
  }
}

function trailerList(res: IncomingMessage): HeaderList | undefined {
  const raw = res.rawTrailers;
  if (!res.complete || raw.length === 0) return undefined;
  const out: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i]!.toLowerCase(), raw[i + 1]!]);
  return out;
}
