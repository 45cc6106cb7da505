// A proxy's operating endpoints (ztunnel and waypoint; facts §7.3): readiness on :15021 (`/healthz/ready`, 200 only
// when every readiness task is done), Prometheus metrics on :15020 (`/metrics`,
// `/stats/prometheus`), and the admin server on 127.0.0.1:15000 (`/config_dump`, `/logging`,
// `/quitquitquit`). Each is a plain node:http server answering only these paths.
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

import type { ListenAddress } from '../net/listen-tcp.js';

export type { ListenAddress };

export interface AdminOptions {
  readonly metrics?: ListenAddress;
  readonly readiness?: ListenAddress;
  readonly admin?: ListenAddress;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Readiness tasks not yet done (empty = ready). */
  readonly pendingReadiness: () => readonly string[];
  readonly configDump: () => unknown;
  readonly quit: () => void;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export class AdminServers {
  private readonly opts: AdminOptions;
  private readonly servers: http.Server[] = [];
  /** Bound ports by role (for tests that listen on port 0). */
  readonly ports: { metrics?: number; readiness?: number; admin?: number } = {};

  constructor(opts: AdminOptions) {
    this.opts = opts;
  }

  async start(): Promise<void> {
    const o = this.opts;
    if (o.readiness) this.ports.readiness = await this.listen(o.readiness, (req, res) => {
      if (pathOf(req) !== '/healthz/ready') return send(res, 404, 'not found\n');
      const pending = o.pendingReadiness();
      if (pending.length === 0) send(res, 200, 'ready\n');
      else send(res, 503, `not ready: ${pending.join(', ')}\n`);
    });
    if (o.metrics) this.ports.metrics = await this.listen(o.metrics, async (req, res) => {
      const path = pathOf(req);
      if (path !== '/metrics' && path !== '/stats/prometheus') return send(res, 404, 'not found\n');
      send(res, 200, await o.registry.metrics(), o.registry.contentType);
    });
    if (o.admin) this.ports.admin = await this.listen(o.admin, (req, res) => {
      const url = new URL(req.url ?? '/', 'http://admin');
      switch (url.pathname) {
        case '/config_dump':
          return send(res, 200, `${JSON.stringify(o.configDump(), null, 2)}\n`, 'application/json');
        case '/logging': {
          const level = url.searchParams.get('level');
          if (level !== null) {
            if (!(level in o.logger.levels.values) && level !== 'silent') return send(res, 400, `unknown level ${JSON.stringify(level)}\n`);
            o.logger.level = level;
          }
          return send(res, 200, `level: ${o.logger.level}\n`);
        }
        case '/quitquitquit':
          if (req.method !== 'POST') return send(res, 405, 'POST only\n');
          send(res, 200, 'shutting down\n');
          return o.quit();
        default:
          return send(res, 404, 'paths: /config_dump /logging?level= /quitquitquit (POST)\n');
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  }

  private listen(addr: ListenAddress, handler: Handler): Promise<number> {
    const server = http.createServer((req, res) => {
      Promise.resolve(handler(req, res)).catch((err: unknown) => {
        this.opts.logger.warn({ err: (err as Error).message, url: req.url }, 'admin request failed');
        if (!res.headersSent) send(res, 500, 'internal error\n');
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 10_000;
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(addr.port, addr.host, () => {
        server.off('error', reject);
        resolve((server.address() as { port: number }).port);
      });
    });
  }
}

function pathOf(req: http.IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
