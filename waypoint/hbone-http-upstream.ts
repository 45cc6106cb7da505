// HboneHttpUpstream: the waypoint's HTTP/1.1 client to endpoints, each request carried inside an
// HBONE tunnel to `podIP:15008` with authority `podIP:targetPort` (facts §6.2: the waypoint
// originates HBONE to the destination's ztunnel with its own identity). Tunnels are HTTP
// connections kept alive and reused (H1UpstreamConnection, one request at a time; idle ones kept
// per endpoint, most recent first), so a busy endpoint costs one CONNECT per concurrent request,
// not one per request. Written for the hot path instead of node:http's Agent/ClientRequest over a
// stream adapter (bench/README.md "Waypoint hop").
import type { ClientHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import type { Workload } from '../shared/config/model.js';
import type { HbonePool } from '../shared/hbone/pool.js';
import type { Identity } from '../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../shared/identity/workload-certificate.js';
import type { AbortLike } from './client-gone.js';
import type { AttemptResult, AttemptRunner } from './forwarder.js';
import { knownEmptyBody } from '../shared/http/h1-body-stream.js';
import { H1UpstreamConnection } from './h1-upstream-connection.js';
import type { HeaderList } from './trace-headers.js';

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
  /** Headers to send (host included), hop-by-hop ones already removed. */
  readonly headers: HeaderList;
  readonly maxRequestsPerConnection?: number;
}

const identityOf = (w: Workload): Identity => ({ trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount });
const formatAddr = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
/** A mirror whose response head has not come by then is dropped (its tunnel closed). */
const mirrorTimeoutMs = 10_000;
/** RFC 9110 §9.2.2. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Idle tunnels kept per endpoint beyond which released ones are closed. */
const maxIdlePerEndpoint = 256;

interface EndpointTunnels {
  readonly all: Set<H1UpstreamConnection>;
  /** Idle, most recently used last. */
  readonly idle: H1UpstreamConnection[];
}

export class HboneHttpUpstream implements AttemptRunner {
  private readonly opts: HboneHttpUpstreamOptions;
  private readonly endpoints = new Map<string, EndpointTunnels>();

  constructor(opts: HboneHttpUpstreamOptions) {
    this.opts = opts;
  }

  static key(ep: Endpoint): string {
    return `${formatAddr(ep.ip, ep.port)}|${ep.workload.uid}`;
  }

  /**
   * One HTTP/1.1 attempt: resolves when the response head arrived (body not read) or it failed.
   * The per-try timeout covers the response head (Envoy's per_try_timeout); the route's overall
   * timeout is the caller's deadline. `maxRequestsPerConnection` (DestinationRule connectionPool):
   * a tunnel that has carried that many requests closes once its last response ends, as Envoy does.
   */
  async attempt(ep: Endpoint, r: UpstreamRequest, body: Buffer | Readable, timeoutMs: number | undefined, aborted: AbortLike): Promise<AttemptResult> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const left = (): number | undefined => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now()));
    const key = HboneHttpUpstream.key(ep);
    const t = this.tunnelsOf(key);
    const kept = this.takeIdle(t);
    if (kept) {
      const result = await kept.exchange(r, body, left(), aborted);
      // RFC 9112 §9.3.1: a kept connection the app closed just as we wrote to it (its keep-alive
      // timer) fails before any response; an idempotent request with a replayable body goes once
      // more, on a new tunnel, as HTTP clients do. Not a retry in the route's sense.
      const replay = result.outcome.kind === 'reset' && !result.response && !aborted.aborted && idempotentMethods.has(r.method) && (Buffer.isBuffer(body) || knownEmptyBody(body));
      if (!replay) return result;
    }
    let conn: H1UpstreamConnection;
    try {
      conn = await this.open(ep, key, t, left(), aborted);
    } catch (err) {
      if ((err as { timeout?: boolean }).timeout) return { outcome: { kind: 'per-try-timeout' } };
      return { outcome: { kind: aborted.aborted ? 'reset' : 'connect-failure' } };
    }
    return conn.exchange(r, body, left(), aborted);
  }

  /** Fire-and-forget request (a mirror): the response is read and dropped. */
  send(ep: Endpoint, r: UpstreamRequest, body: Buffer | Readable, timeoutMs = mirrorTimeoutMs): void {
    void this.attempt(ep, r, body, timeoutMs, { aborted: false, addEventListener: () => undefined, removeEventListener: () => undefined }).then((res) => res.response?.body.resume());
  }

  /** Closes the kept tunnels of endpoints no longer in `liveKeys` (they left the model). */
  retain(liveKeys: ReadonlySet<string>): void {
    for (const [key, t] of this.endpoints) {
      if (liveKeys.has(key)) continue;
      for (const c of t.all) c.destroy();
      this.endpoints.delete(key);
    }
  }

  /** Tunnels open (in use or idle), for tests and /config_dump. */
  openTunnels(): number {
    let n = 0;
    for (const t of this.endpoints.values()) n += t.all.size;
    return n;
  }

  close(): void {
    for (const t of this.endpoints.values()) for (const c of t.all) c.destroy();
    this.endpoints.clear();
  }

  private tunnelsOf(key: string): EndpointTunnels {
    let t = this.endpoints.get(key);
    if (!t) {
      t = { all: new Set(), idle: [] };
      this.endpoints.set(key, t);
    }
    return t;
  }

  /** The most recently used idle tunnel that is still usable, if any. */
  private takeIdle(t: EndpointTunnels): H1UpstreamConnection | undefined {
    for (let c = t.idle.pop(); c; c = t.idle.pop()) if (c.reusable) return c;
    return undefined;
  }

  private async open(ep: Endpoint, key: string, t: EndpointTunnels, timeoutMs: number | undefined, aborted: AbortLike): Promise<H1UpstreamConnection> {
    const source = this.opts.certificate();
    if (!source) throw new Error('waypoint certificate not available');
    const hop = { host: ep.ip, port: this.opts.hbonePort ?? 15008 };
    const connectMs = minDefined(this.opts.connectTimeoutMs, timeoutMs);
    const stream: ClientHttp2Stream = await new Promise((resolve, reject) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        aborted.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = (): void => fail(new Error('client gone'));
      if (timeoutMs !== undefined && (this.opts.connectTimeoutMs === undefined || timeoutMs < this.opts.connectTimeoutMs)) {
        timer = setTimeout(() => fail(Object.assign(new Error('per-try timeout while connecting'), { timeout: true })), Math.max(0, timeoutMs));
      }
      aborted.addEventListener('abort', onAbort, { once: true });
      this.opts.pool
        .connectDuplex({
          source,
          expectedIdentities: [identityOf(ep.workload)],
          nextHop: this.opts.mapNextHop ? this.opts.mapNextHop(hop) : hop,
          authority: formatAddr(ep.ip, ep.port),
          ...(connectMs !== undefined ? { timeoutMs: connectMs } : {}),
        })
        .then((s) => {
          // Too late (timed out or the client went away): the tunnel is not wanted.
          if (settled) return void s.close();
          settled = true;
          if (timer) clearTimeout(timer);
          aborted.removeEventListener('abort', onAbort);
          resolve(s);
        }, fail);
    });
    const conn = new H1UpstreamConnection(stream, {
      release: (c) => {
        if (!this.endpoints.has(key) || t.idle.length >= maxIdlePerEndpoint) return c.destroy();
        t.idle.push(c);
      },
      closed: (c) => {
        t.all.delete(c);
        const i = t.idle.indexOf(c);
        if (i >= 0) t.idle.splice(i, 1);
      },
    });
    t.all.add(conn);
    return conn;
  }
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
