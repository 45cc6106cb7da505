// HealthServer: the control plane's probes on :15021, the readiness port every Ambit process uses
// (architecture "Ports"). `/healthz/ready` answers 200 only when no readiness task is pending (the
// first model compiled from the source, the gRPC port listening), else 503 naming what is
// pending; `/healthz/live` answers 200 while the process serves HTTP at all. Plain HTTP, no TLS:
// the kubelet probes it and it tells nothing about the mesh.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../shared/net/listen-tcp.js';

export const healthPaths = { ready: '/healthz/ready', live: '/healthz/live' } as const;

export interface HealthAnswer {
  readonly status: 200 | 404 | 405 | 503;
  readonly body: string;
}

/** Pure: the answer to one probe request, given the pending readiness tasks. */
export function buildHealthAnswer(method: string | undefined, url: string | undefined, pending: readonly string[]): HealthAnswer {
  const path = (url ?? '/').split('?')[0];
  if (path !== healthPaths.ready && path !== healthPaths.live) return { status: 404, body: `paths: ${healthPaths.ready} ${healthPaths.live}\n` };
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: 'GET only\n' };
  if (path === healthPaths.live) return { status: 200, body: 'live\n' };
  return pending.length === 0 ? { status: 200, body: 'ready\n' } : { status: 503, body: `not ready: ${pending.join(', ')}\n` };
}

export class HealthServer {
  private readonly server: http.Server;
  port = 0;

  constructor(pending: () => readonly string[]) {
    this.server = http.createServer((req, res) => {
      const a = buildHealthAnswer(req.method, req.url, pending());
      res.writeHead(a.status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(a.body) });
      res.end(req.method === 'HEAD' ? undefined : a.body);
    });
  }

  listen(addr: ListenAddress): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: addr.host, port: addr.port }, () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
