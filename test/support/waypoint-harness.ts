// Direct-tier mesh with a waypoint: two Ztunnels (DirectCluster) and one Waypoint in this
// process, with 127.<N>.x.y addresses as pod IPs. Echo backends reflect method, path, headers and
// which pod answered (the Gateway API mesh conformance pattern); a test client "in a pod" sends
// HTTP through its node's outbound listener, so every request crosses client ztunnel → waypoint →
// destination ztunnel → app over real HBONE.
import http, { type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { after, before } from 'node:test';
import { Registry } from 'prom-client';
import type { ConfigError } from '../../shared/config/config-error.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { createLogger } from '../../shared/log.js';
import type { JwksFetcher } from '../../waypoint/filters/jwt/jwks-fetcher.js';
import type { L7Config } from '../../waypoint/l7-config.js';
import { l7Compiler } from '../../waypoint/l7-compiler.js';
import { configStoreSource, WaypointState } from '../../waypoint/state.js';
import { Waypoint } from '../../waypoint/waypoint.js';
import { DirectCluster, LogCapture, trustDomain } from './ztunnel-harness.js';

export interface EchoReply {
  readonly pod: string;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Header lines as received, `[name, value, ...]` (repeated and odd names kept). */
  readonly raw: string[];
  readonly body: string;
}

export interface HttpReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The echo backend's reflection, when the body was one. */
  readonly echo?: EchoReply;
}

export interface EchoBackend {
  readonly pod: string;
  readonly ip: string;
  readonly port: number;
  readonly requests: EchoReply[];
  /** Makes the backend answer with this status (and optional delay) until reset. */
  behave(b: { status?: number; delayMs?: number; failEvery?: number }): void;
  close(): Promise<void>;
}

/** An HTTP echo app on ip:port that reflects each request as JSON. */
export async function startEcho(pod: string, ip: string, port: number): Promise<EchoBackend> {
  const requests: EchoReply[] = [];
  let behaviour: { status?: number; delayMs?: number; failEvery?: number } = {};
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply: EchoReply = { pod, method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: req.rawHeaders, body: Buffer.concat(chunks).toString() };
      requests.push(reply);
      n++;
      const status = behaviour.failEvery ? (n % behaviour.failEvery === 0 ? behaviour.status ?? 503 : 200) : behaviour.status ?? 200;
      const send = (): void => {
        const body = JSON.stringify(reply);
        res.writeHead(status, { 'content-type': 'application/json', 'x-echo-pod': pod, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (behaviour.delayMs) setTimeout(send, behaviour.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, ip, () => resolve());
  });
  return {
    pod, ip, port, requests,
    behave: (b) => {
      behaviour = b;
      n = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One HTTP/1.1 request on a fresh captured connection (the client pod's app opening a socket). */
export function httpOver(socket: Socket, opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string; host?: string; timeoutMs?: number }): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      createConnection: () => socket,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers: { host: opts.host ?? 'echo.demo.svc.cluster.local', connection: 'close', ...opts.headers },
      timeout: opts.timeoutMs ?? 5_000,
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        let echo: EchoReply | undefined;
        if (String(res.headers['content-type']).startsWith('application/json')) {
          try {
            echo = JSON.parse(body) as EchoReply;
          } catch {
            echo = undefined;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ...(echo ? { echo } : {}) });
      });
    });
    req.end(opts.body);
  });
}

export interface WaypointUnderTest {
  readonly waypoint: Waypoint;
  readonly logs: LogCapture;
  readonly registry: Registry;
  /** Every batch of warnings the waypoint's L7 compiler reported (the route compilers' ConfigErrors). */
  readonly warnings: ConfigError[];
}

/**
 * Starts a Waypoint for Gateway `namespace/name` bound to `ip:15008`, fed by the cluster's store.
 * `jwksFetcher` serves `jwksUri` rules (without one they refuse every token); the caller closes it.
 */
export async function startWaypoint(cluster: DirectCluster, gateway: { namespace: string; name: string }, ip: string, opts: { random?: () => number; ca?: CertificateAuthority; headersTimeoutMs?: number; idleTimeoutMs?: number; jwksFetcher?: JwksFetcher } = {}): Promise<WaypointUnderTest> {
  const logs = new LogCapture();
  const registry = new Registry();
  const warnings: ConfigError[] = [];
  const state = new WaypointState<L7Config>(configStoreSource(cluster.store), l7Compiler({ gateway, ...(opts.jwksFetcher ? { jwksFetcher: opts.jwksFetcher } : {}) }, (w) => warnings.push(...w)));
  const waypoint = new Waypoint({
    gateway: `${gateway.namespace}/${gateway.name}`,
    identity: { trustDomain, namespace: gateway.namespace, serviceAccount: `${gateway.name}-istio-waypoint` },
    state,
    fetchCertificate: (id) => (opts.ca ?? cluster.ca).issue(id),
    logger: createLogger({ level: 'debug', name: 'waypoint', destination: logs }),
    listen: { hbone: [{ host: ip, port: 15008 }], metrics: { host: '127.0.0.1', port: 0 }, readiness: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    registry,
    connectTimeoutMs: 2_000,
    ...(opts.random ? { random: opts.random } : {}),
    ...(opts.headersTimeoutMs ? { headersTimeoutMs: opts.headersTimeoutMs } : {}),
    ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
  });
  await waypoint.start();
  await waypoint.ready(10_000);
  return { waypoint, logs, registry, warnings };
}

export type WaypointOptions = NonNullable<Parameters<typeof startWaypoint>[3]>;

/** The usual direct-tier scene: the mesh's two Ztunnels, the waypoint of demo/echo, echo-v1 and echo-v2 on 8080. */
export interface WaypointScene {
  readonly cluster: DirectCluster;
  readonly wp: WaypointUnderTest;
  /** A test may replace an echo (restart it); whatever is here at the end is closed. */
  readonly echoes: EchoBackend[];
}

/**
 * Registers the scene's set-up and tear-down as before()/after() hooks of the calling describe();
 * its parts are readable from inside the tests.
 */
export function waypointScene(mesh: { readonly nodes: Record<string, string[]>; readonly yaml: string; readonly ips: { readonly v1: string; readonly v2: string; readonly waypoint: string } }, opts: WaypointOptions = {}): WaypointScene {
  let cluster: DirectCluster | undefined;
  let wp: WaypointUnderTest | undefined;
  let echoes: EchoBackend[] = [];
  before(async () => {
    cluster = await DirectCluster.start(mesh.nodes, mesh.yaml);
    wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, mesh.ips.waypoint, opts);
    echoes = [await startEcho('echo-v1', mesh.ips.v1, 8080), await startEcho('echo-v2', mesh.ips.v2, 8080)];
  });
  after(async () => {
    await wp?.waypoint.shutdown(0);
    await Promise.all(echoes.map((e) => e.close()));
    await cluster?.close();
  });
  const started = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`the waypoint scene's ${what} is not started (used outside a test?)`);
    return x;
  };
  return {
    get cluster() { return started(cluster, 'cluster'); },
    get wp() { return started(wp, 'waypoint'); },
    get echoes() { return echoes; },
  };
}

/**
 * Writes raw bytes on a captured connection without half-closing it (an HTTP client waits for
 * the response with its side open) and collects what comes back until the peer closes or `idleMs`
 * pass without data.
 */
export function rawHttp(socket: Socket, payload: string, idleMs = 1_500): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let timer = setTimeout(done, idleMs);
    function done(): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      clearTimeout(timer);
      timer = setTimeout(done, idleMs);
    });
    socket.once('close', done);
    socket.once('end', done); // the proxy closed its side (test sockets allow half-open)
    socket.write(payload);
  });
}
