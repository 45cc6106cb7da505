// HboneH2Upstream: the waypoint's HTTP/2 client to endpoints (gRPC and h2c apps), one HTTP/2
// session per endpoint inside one HBONE tunnel, requests multiplexed on it; trailers (gRPC's
// grpc-status) come back to the downstream. A session that fails, ends or gets GOAWAY is
// replaced by the next request.
import http2, { constants as h2c, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import type { HbonePool } from '../shared/hbone/pool.js';
import type { WorkloadCertificate } from '../shared/identity/workload-certificate.js';
import { StreamAdapter } from '../shared/net/stream-adapter.js';
import type { AttemptResult, AttemptRunner } from './forwarder.js';
import { HboneHttpUpstream, type Endpoint } from './hbone-http-upstream.js';
import type { HeaderList } from './trace-headers.js';
import type { AbortLike } from './client-gone.js';

export interface HboneH2UpstreamOptions {
  readonly pool: HbonePool;
  readonly certificate: () => WorkloadCertificate | undefined;
  readonly connectTimeoutMs?: number;
  readonly mapNextHop?: (hop: { host: string; port: number }) => { host: string; port: number };
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2), and `host` (it becomes :authority). */
const notForH2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/** A mirror whose response head has not come by then is dropped (its stream cancelled). */
const mirrorTimeoutMs = 10_000;
const neverAborted: AbortLike = { aborted: false, addEventListener: () => undefined, removeEventListener: () => undefined };

const formatAddr = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

function headerList(h: IncomingHttpHeaders): HeaderList {
  const out: HeaderList = [];
  for (const [n, v] of Object.entries(h)) {
    if (n.startsWith(':') || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out.push([n, String(one)]);
  }
  return out;
}

export class HboneH2Upstream implements AttemptRunner {
  private readonly opts: HboneH2UpstreamOptions;
  private readonly sessions = new Map<string, Promise<ClientHttp2Session>>();

  constructor(opts: HboneH2UpstreamOptions) {
    this.opts = opts;
  }

  attempt(ep: Endpoint, r: { readonly method: string; readonly path: string; readonly headers: HeaderList }, body: Buffer | Readable, timeoutMs: number | undefined, aborted: AbortLike): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      let cancel: () => void = () => undefined;
      const done = (result: AttemptResult): void => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        aborted.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const timer = timeoutMs !== undefined ? setTimeout(() => {
        cancel();
        done({ outcome: { kind: 'per-try-timeout' } });
      }, Math.max(0, timeoutMs)) : undefined;
      const onAbort = (): void => {
        cancel();
        done({ outcome: { kind: 'reset' } });
      };
      aborted.addEventListener('abort', onAbort, { once: true });
      this.session(ep).then(
        (session) => {
          if (settled) return;
          const authority = r.headers.find(([n]) => n === 'host')?.[1] ?? formatAddr(ep.ip, ep.port);
          const out: Record<string, string | string[]> = { ':method': r.method, ':path': r.path, ':authority': authority, ':scheme': 'http' };
          for (const [n, v] of r.headers) {
            if (notForH2.has(n) || (n === 'te' && v !== 'trailers')) continue;
            const prev = out[n];
            out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
          }
          let stream: http2.ClientHttp2Stream;
          try {
            stream = session.request(out);
          } catch {
            return done({ outcome: { kind: 'reset' } });
          }
          cancel = () => stream.close(h2c.NGHTTP2_CANCEL);
          let trailers: HeaderList | undefined;
          stream.on('trailers', (t: IncomingHttpHeaders) => (trailers = headerList(t)));
          stream.on('error', () => undefined);
          stream.once('close', () => {
            if (stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM) done({ outcome: { kind: 'refused-stream' } });
            else done({ outcome: { kind: 'reset' } });
          });
          stream.once('response', (h: IncomingHttpHeaders) => {
            const status = Number(h[':status'] ?? 502);
            const grpc = h['grpc-status'];
            done({
              outcome: { kind: 'response', status, ...(typeof grpc === 'string' && /^\d+$/.test(grpc) ? { grpcStatus: Number(grpc) } : {}) },
              response: { headers: headerList(h), body: stream, trailers: () => trailers },
            });
          });
          if (Buffer.isBuffer(body)) stream.end(body);
          else {
            body.pipe(stream);
            // A body that breaks off (its client gone, a retry abandoning this attempt) cancels the
            // stream rather than leaving it half open on the session.
            body.once('close', () => {
              if (!body.readableEnded && !stream.destroyed) stream.close(h2c.NGHTTP2_CANCEL);
            });
          }
        },
        () => done({ outcome: { kind: 'connect-failure' } }),
      );
    });
  }

  /** Fire-and-forget request (a mirror): the response is read and dropped. */
  send(ep: Endpoint, r: { readonly method: string; readonly path: string; readonly headers: HeaderList }, body: Buffer | Readable, timeoutMs = mirrorTimeoutMs): void {
    void this.attempt(ep, r, body, timeoutMs, neverAborted).then((res) => res.response?.body.resume());
  }

  /** Closes sessions to endpoints no longer in `liveKeys` (HboneHttpUpstream.key). */
  retain(liveKeys: ReadonlySet<string>): void {
    for (const [key, s] of this.sessions) {
      if (liveKeys.has(key)) continue;
      this.sessions.delete(key);
      s.then((session) => session.close(), () => undefined);
    }
  }

  close(): void {
    for (const s of this.sessions.values()) s.then((session) => session.destroy(), () => undefined);
    this.sessions.clear();
  }

  private session(ep: Endpoint): Promise<ClientHttp2Session> {
    const key = HboneHttpUpstream.key(ep);
    const held = this.sessions.get(key);
    if (held) return held;
    const created = this.open(ep).then((session) => {
      const forget = (): void => {
        if (this.sessions.get(key) === created) this.sessions.delete(key);
      };
      session.once('close', forget);
      session.once('goaway', forget);
      session.on('error', forget);
      return session;
    });
    created.catch(() => {
      if (this.sessions.get(key) === created) this.sessions.delete(key);
    });
    this.sessions.set(key, created);
    return created;
  }

  private async open(ep: Endpoint): Promise<ClientHttp2Session> {
    const source = this.opts.certificate();
    if (!source) throw new Error('waypoint certificate not available');
    const hop = { host: ep.ip, port: 15008 };
    const tunnel = await this.opts.pool.connectDuplex({
      source,
      expectedIdentities: [{ trustDomain: ep.workload.trustDomain, namespace: ep.workload.namespace, serviceAccount: ep.workload.serviceAccount }],
      nextHop: this.opts.mapNextHop ? this.opts.mapNextHop(hop) : hop,
      authority: formatAddr(ep.ip, ep.port),
      ...(this.opts.connectTimeoutMs ? { timeoutMs: this.opts.connectTimeoutMs } : {}),
    });
    const adapter = new StreamAdapter(tunnel, { address: ep.ip, port: ep.port });
    adapter.on('error', () => undefined);
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${formatAddr(ep.ip, ep.port)}`, { createConnection: () => adapter as unknown as import('node:net').Socket, settings: { enablePush: false } });
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    });
  }
}
