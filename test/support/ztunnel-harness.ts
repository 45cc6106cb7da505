// Direct-tier ztunnel cluster: two (or more) real Ztunnels in this process, with loopback
// addresses standing in for pod IPs (127.<subnet>.<node>.<n>) and no iptables. A test client
// "in a pod" connects from the pod's address to the node's outbound listener after registering
// its original destination in that node's OriginalDstTable; inbound HBONE listeners bind each local
// pod's own address on 15008, so the original destination is the socket's local address, as the
// kernel would report after REDIRECT. Apps listen on the pod addresses. Logs are kept in memory.
import net, { type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { ConfigStore } from '../../shared/config/config-store.js';
import type { HboneEngine } from '../../shared/hbone/settings.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import type { Identity } from '../../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../../shared/identity/workload-certificate.js';
import { createLogger } from '../../shared/log.js';
import { localAddressOriginalDst, OriginalDstTable, type SocketAddress } from '../../ztunnel/orig-dst.js';
import { configStoreSource, ZtunnelState } from '../../ztunnel/state.js';
import { Ztunnel } from '../../ztunnel/ztunnel.js';

export const trustDomain = 'cluster.local';

export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) {
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not JSON: ignore
        }
      }
    }
    cb();
  }
  find(msg: string, pred: (l: Record<string, unknown>) => boolean = () => true): Record<string, unknown>[] {
    return this.lines.filter((l) => l['msg'] === msg && pred(l));
  }
}

export interface NodeUnderTest {
  readonly name: string;
  readonly ztunnel: Ztunnel;
  readonly table: OriginalDstTable;
  readonly logs: LogCapture;
  readonly podIps: readonly string[];
}

export interface App {
  readonly ip: string;
  readonly port: number;
  /** Remote addresses of the connections the app accepted. */
  readonly peers: string[];
  readonly sockets: Set<Socket>;
  accepted(): number;
  close(): Promise<void>;
}

let nextSourcePort = 20_000 + (process.pid % 20_000);

export class DirectCluster {
  readonly store: ConfigStore;
  readonly ca: CertificateAuthority;
  readonly nodes = new Map<string, NodeUnderTest>();
  private readonly apps: App[] = [];
  private readonly clients = new Set<Socket>();

  private constructor(store: ConfigStore, ca: CertificateAuthority) {
    this.store = store;
    this.ca = ca;
  }

  /**
   * `nodes`: node name → the pod IPs it hosts (each gets an inbound listener on IP:15008).
   * `yaml`: the mesh resources (pods must use those IPs and node names).
   * `engines`: node name → its HBONE engine (default: Ztunnel's own, `lean`).
   */
  static async start(nodes: Readonly<Record<string, readonly string[]>>, yaml: string, opts: { fetchDelay?: Promise<void>; engines?: Readonly<Record<string, HboneEngine>> } = {}): Promise<DirectCluster> {
    const store = new ConfigStore({ trustDomain });
    store.update((r) => void r.applyText('test.yaml', yaml));
    if (store.errors.length > 0) throw new Error(`test mesh has errors: ${JSON.stringify(store.errors)}`);
    const ca = await CertificateAuthority.create({ trustDomain });
    const cluster = new DirectCluster(store, ca);
    for (const [name, podIps] of Object.entries(nodes)) {
      const table = new OriginalDstTable();
      const logs = new LogCapture();
      const logger = createLogger({ level: 'debug', name: 'ztunnel', destination: logs });
      const ztunnel = new Ztunnel({
        node: name,
        trustDomain,
        state: new ZtunnelState(configStoreSource(store)),
        fetchCertificate: async (id: Identity): Promise<WorkloadCertificate> => {
          await opts.fetchDelay;
          return ca.issue(id);
        },
        logger,
        listen: {
          outbound: [{ host: '127.0.0.1', port: 0 }],
          inbound: podIps.map((ip) => ({ host: ip, port: 15008 })),
          inboundPlaintext: [{ host: '127.0.0.1', port: 0 }],
          metrics: { host: '127.0.0.1', port: 0 },
          readiness: { host: '127.0.0.1', port: 0 },
          admin: { host: '127.0.0.1', port: 0 },
        },
        originalDst: { outbound: table.resolve, inbound: localAddressOriginalDst(15008), inboundPlaintext: table.resolve },
        localAddresses: ['127.0.0.1'],
        connectTimeoutMs: 2_000,
        ...(opts.engines?.[name] ? { hboneEngine: opts.engines[name] } : {}),
      });
      await ztunnel.start();
      cluster.nodes.set(name, { name, ztunnel, table, logs, podIps });
    }
    for (const n of cluster.nodes.values()) await n.ztunnel.ready(10_000);
    return cluster;
  }

  node(name: string): NodeUnderTest {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Replaces the mesh resources (as one file edit). */
  apply(yaml: string): void {
    this.store.update((r) => void r.applyText('test.yaml', yaml));
    if (this.store.errors.length > 0) throw new Error(`test mesh has errors: ${JSON.stringify(this.store.errors)}`);
  }

  /** An echo app on ip:port that records its peers. `mode: 'sink'` reads without answering. */
  async startApp(ip: string, port: number, mode: 'echo' | 'sink' = 'echo'): Promise<App> {
    const peers: string[] = [];
    const sockets = new Set<Socket>();
    let accepted = 0;
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      accepted++;
      peers.push(s.remoteAddress ?? '?');
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
      if (mode === 'echo') s.pipe(s);
      else s.resume();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, ip, () => resolve());
    });
    const app: App = {
      ip, port, peers, sockets,
      accepted: () => accepted,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
    this.apps.push(app);
    return app;
  }

  private connectVia(listenPort: number, table: OriginalDstTable, fromIp: string, dst: SocketAddress): Socket {
    const port = nextSourcePort++;
    if (nextSourcePort > 60_000) nextSourcePort = 20_000;
    table.set({ ip: fromIp, port }, dst);
    const s = net.connect({ host: '127.0.0.1', port: listenPort, localAddress: fromIp, localPort: port, allowHalfOpen: true });
    s.on('error', () => undefined);
    this.clients.add(s);
    s.once('close', () => this.clients.delete(s));
    return s;
  }

  /** A pod on `node` (address `fromIp`) connects to `dst`; captured by that node's outbound listener. */
  connectFrom(node: string, fromIp: string, dst: SocketAddress): Socket {
    const n = this.node(node);
    return this.connectVia(n.ztunnel.ports.outbound[0]!, n.table, fromIp, dst);
  }

  /** A client outside the mesh (address `fromIp`) connects to pod `dst` on `node`: captured as plaintext inbound. */
  connectPlaintext(node: string, fromIp: string, dst: SocketAddress): Socket {
    const n = this.node(node);
    return this.connectVia(n.ztunnel.ports.inboundPlaintext[0]!, n.table, fromIp, dst);
  }

  async close(): Promise<void> {
    for (const s of this.clients) s.destroy();
    await Promise.all(this.apps.map((a) => a.close()));
    await Promise.all([...this.nodes.values()].map((n) => n.ztunnel.shutdown(0)));
  }
}

export interface Exchange {
  readonly data: Buffer;
  /** How the connection ended: 'end' (FIN), 'reset' (ECONNRESET/EPIPE) or 'close'. */
  readonly ending: 'end' | 'reset' | 'close';
}

/** Writes `payload`, half-closes, and collects everything until the connection ends. */
export function exchange(socket: Socket, payload: string | Buffer, timeoutMs = 5_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ending: Exchange['ending'] = 'close';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`exchange timed out after ${timeoutMs} ms (got ${Buffer.concat(chunks).length} bytes)`));
    }, timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => {
      ending = 'end';
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') ending = 'reset';
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), ending });
    });
    socket.write(payload);
    socket.end();
  });
}

/** Fetches an admin/metrics/readiness URL of a ztunnel. */
export async function httpGet(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

/** The value of one Prometheus sample whose labels include all of `labels` (sum over matches). */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^([^{ ]+)(?:\{(.*)\})? ([0-9.eE+-]+)$/.exec(line);
    if (!m) continue;
    const have = new Map<string, string>();
    for (const kv of (m[2] ?? '').matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) have.set(kv[1]!, kv[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total += Number(m[3]);
  }
  return total;
}

/** Retries `check` (which throws until satisfied) every 20 ms for up to `ms`. */
export async function eventually(check: () => void | Promise<void>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Pod and VIP addresses of sampleMesh() under a `127.N` prefix (one prefix per test file). */
export function meshAddresses(prefix: string): { n1: { client: string; other: string; local: string }; n2: { echo: string; legacy: string }; vip: string } {
  return {
    n1: { client: `${prefix}.1.10`, other: `${prefix}.1.11`, local: `${prefix}.1.12` },
    n2: { echo: `${prefix}.2.10`, legacy: `${prefix}.2.20` },
    vip: `10.96.${prefix.split('.')[1]}.7`,
  };
}

/**
 * The direct tier's example mesh: namespaces demo and other (enrolled) and legacy (not);
 * node-1: client (demo/client, a Deployment pod), intruder (other/intruder), local-echo (demo);
 * node-2: echo-v1 (demo/echo, port 8080 named http), old (legacy); Service demo/echo (VIP:80 → http).
 */

export function sampleMesh(prefix: string, extra = ''): string {
  const { n1, n2, vip } = meshAddresses(prefix);
  return `
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Pod
metadata: {name: client-7d9f8b6c5d-x2x4q, namespace: demo, labels: {app: client, pod-template-hash: 7d9f8b6c5d}}
spec: {nodeName: node-1, serviceAccountName: client, containers: [{name: c}]}
status: {podIP: ${n1.client}, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: intruder, namespace: other, labels: {app: intruder}}
spec: {nodeName: node-1, serviceAccountName: intruder, containers: [{name: c}]}
status: {podIP: ${n1.other}, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: local-echo, namespace: demo, labels: {app: local-echo}}
spec: {nodeName: node-1, serviceAccountName: local-echo, containers: [{name: c, ports: [{name: http, containerPort: 9090}]}]}
status: {podIP: ${n1.local}, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v1, namespace: demo, labels: {app: echo, version: v1}}
spec: {nodeName: node-2, serviceAccountName: echo, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}
status: {podIP: ${n2.echo}, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: old, namespace: legacy, labels: {app: old}}
spec: {nodeName: node-2, containers: [{name: c}]}
status: {podIP: ${n2.legacy}, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: ${vip}
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
${extra}`;
}
