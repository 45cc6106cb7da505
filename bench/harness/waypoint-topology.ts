// The processes of one bench/waypoint-hop.ts run, all on loopback (127.0.0.1 and 127.<S>.x.y as
// pod addresses; no iptables, no namespaces). One nginx HTTP backend (1 worker, a fixed 1 KiB
// body) is reached five ways:
//   direct     wrk -> backend 127.0.0.1
//   ztunnels   wrk -> ztunnel node-1 (outbound, "to plain VIP:80") ==HBONE==> ztunnel node-2 -> backend as pod plain-1
//   waypoint   wrk -> ztunnel node-1 (outbound, "to echo VIP:80") ==HBONE==> `ambit waypoint` (L7)
//                  ==HBONE==> ztunnel node-2 -> backend as pod echo-1
//   nginx-l7   wrk -> nginx reverse proxy (proxy_pass, keep-alive upstream, 1 worker) -> backend 127.0.0.1
//              (nginx alone, outside the mesh: the reference the issue's 17 %/32 % figures came from)
//   nginx-hop  wrk -> ztunnel node-1 (outbound, "to proxy VIP:80") ==HBONE==> ztunnel node-2
//                  -> a second nginx reverse proxy as pod proxy-1 (same settings) -> backend 127.0.0.1:
//              nginx in the waypoint's place, so the path has as many proxy processes as the waypoint's
//   waypoint-base (with a baseline CLI) the waypoint path through a second waypoint from another
//              build (account echo2, pod echo2-1): an A/B of a waypoint change in the same rounds
// The ztunnels are bench/harness/loopback-ztunnel.ts (the Ztunnel class in a process of its own);
// the waypoint is the real CLI with --config and --ca-dir. The client pod's address is
// 127.0.0.1, the source address of wrk's loopback connections.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHttpBackendConfig, buildHttpProxyConfig } from './nginx-l7-config.js';
import { freePort, waitForPort, type ManagedProcess, type ProcessGroup } from './process-group.js';
import { childPids, type ProcSampler, type TrackedProcess } from './proc-sampler.js';

export const WaypointPath = {
  Direct: 'direct', Ztunnels: 'ztunnels', Waypoint: 'waypoint', NginxL7: 'nginx-l7', NginxHop: 'nginx-hop', WaypointBase: 'waypoint-base',
} as const;
export type WaypointPath = (typeof WaypointPath)[keyof typeof WaypointPath];

export interface BenchPath {
  readonly name: WaypointPath;
  /** wrk connects to 127.0.0.1:port. */
  readonly port: number;
  /** Processes doing this path's proxy work (none for direct). */
  readonly proxies: readonly TrackedProcess[];
}

export interface WaypointTopology {
  readonly paths: readonly BenchPath[];
  readonly waypoint: TrackedProcess;
  readonly waypointBase?: TrackedProcess;
  readonly body: string;
}

export interface WaypointTopologyOptions {
  readonly workDir: string;
  readonly group: ProcessGroup;
  readonly sampler: ProcSampler;
  /** Second octet of the pod addresses (127.<subnet>.x.y), to stay clear of the test tiers'. */
  readonly subnet: number;
  readonly bodyBytes: number;
  /** If set, the waypoint runs with `--cpu-prof` and writes its profile here. */
  readonly cpuProfDir?: string;
  readonly ambitCli?: string;
  /** Another build's `ambit` CLI: adds the path `waypoint-base` through a waypoint it runs. */
  readonly baselineCli?: string;
}

export interface BenchMesh {
  readonly yaml: string;
  readonly ips: {
    readonly client: string; readonly echo: string; readonly plain: string; readonly proxy: string;
    readonly waypoint: string; readonly echo2: string; readonly waypoint2: string;
  };
  readonly vips: { readonly echo: string; readonly plain: string; readonly proxy: string; readonly echo2: string };
}

/**
 * The mesh: namespace bench (ambient); client pod on node-1 at 127.0.0.1; on node-2 echo-1 (account
 * echo, which has the waypoint), plain-1 (account plain, no waypoint), proxy-1 (account proxy, no
 * waypoint: the nginx-hop path's nginx) and the waypoint pod; Services echo, plain and proxy on port
 * 80 -> named port http (8080); the waypoint Gateway for account echo.
 * With `baseline`, the same again for account echo2 (pod echo2-1, Service echo2, its own waypoint).
 */
export function buildBenchMesh(subnet: number, opts: { baseline?: boolean } = {}): BenchMesh {
  const p = `127.${subnet}`;
  const ips = { client: '127.0.0.1', echo: `${p}.2.11`, plain: `${p}.2.21`, proxy: `${p}.2.31`, waypoint: `${p}.2.50`, echo2: `${p}.2.12`, waypoint2: `${p}.2.51` };
  const vips = { echo: `10.96.${subnet}.20`, plain: `10.96.${subnet}.21`, proxy: `10.96.${subnet}.23`, echo2: `10.96.${subnet}.22` };
  const pod = (name: string, sa: string, ip: string, node: string, labels: string, port?: number): string => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: bench, labels: {${labels}}}
spec: {nodeName: ${node}, serviceAccountName: ${sa}, containers: [{name: c${port ? `, ports: [{name: http, containerPort: ${port}}]` : ''}}]}
status: {podIP: ${ip}, conditions: [{type: Ready, status: "True"}]}
`;
  const gateway = (account: string): string =>
    `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ${account}, namespace: bench, annotations: {istio.io/for-service-account: ${account}}}\nspec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}\n`;
  const service = (name: string, vip: string, ports: string): string =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: bench}\nspec: {clusterIP: ${vip}, selector: {app: ${name}}, ports: [${ports}]}\n`;
  const yaml = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {istio.io/dataplane-mode: ambient}}\n',
    pod('client', 'client', ips.client, 'node-1', 'app: client'),
    pod('echo-1', 'echo', ips.echo, 'node-2', 'app: echo', 8080),
    pod('plain-1', 'plain', ips.plain, 'node-2', 'app: plain', 8080),
    pod('proxy-1', 'proxy', ips.proxy, 'node-2', 'app: proxy', 8080),
    pod('echo-istio-waypoint-1', 'echo-istio-waypoint', ips.waypoint, 'node-2', 'app: echo-istio-waypoint, istio.io/dataplane-mode: none'),
    service('echo', vips.echo, '{name: http, port: 80, targetPort: http}'),
    service('plain', vips.plain, '{name: http, port: 80, targetPort: http}'),
    service('proxy', vips.proxy, '{name: http, port: 80, targetPort: http}'),
    service('echo-istio-waypoint', `10.96.${subnet}.50`, '{name: mesh, port: 15008}'),
    gateway('echo'),
    ...(opts.baseline ? [
      pod('echo2-1', 'echo2', ips.echo2, 'node-2', 'app: echo2', 8080),
      pod('echo2-istio-waypoint-1', 'echo2-istio-waypoint', ips.waypoint2, 'node-2', 'app: echo2-istio-waypoint, istio.io/dataplane-mode: none'),
      service('echo2', vips.echo2, '{name: http, port: 80, targetPort: http}'),
      service('echo2-istio-waypoint', `10.96.${subnet}.51`, '{name: mesh, port: 15008}'),
      gateway('echo2'),
    ] : []),
  ].join('---\n');
  return { yaml, ips, vips };
}

export const defaultAmbitCli = fileURLToPath(new URL('../../cli/ambit.js', import.meta.url));
const loopbackZtunnel = fileURLToPath(new URL('./loopback-ztunnel.js', import.meta.url));

export async function startWaypointTopology(o: WaypointTopologyOptions): Promise<WaypointTopology> {
  const cli = o.ambitCli ?? defaultAmbitCli;
  const dir = (name: string): string => join(o.workDir, name);
  await chmod(o.workDir, 0o755);
  for (const d of ['ca', 'mesh', 'nginx-backend', 'nginx-l7', 'nginx-hop']) await mkdir(dir(d), { recursive: true, mode: 0o755 });
  const baseline = o.baselineCli !== undefined;
  const mesh = buildBenchMesh(o.subnet, { baseline });
  const meshFile = join(dir('mesh'), 'mesh.yaml');
  await writeFile(meshFile, mesh.yaml);
  const ca = await o.group.run('ambit-ca', process.execPath, [cli, 'ca', 'init', '--dir', dir('ca'), '--trust-domain', 'cluster.local'], 30_000);
  if (ca.code !== 0) throw new Error(`ambit ca init failed (${ca.code}): ${ca.stderr}`);

  const body = bodyOf(o.bodyBytes);
  const [backendPort, l7Port, outEcho, outPlain, outProxy, outEcho2] =
    await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]) as [number, number, number, number, number, number];
  const backend = await startNginx(o.group, 'nginx-backend', dir('nginx-backend'), buildHttpBackendConfig({
    prefix: dir('nginx-backend'), body,
    listen: [{ host: '127.0.0.1', port: backendPort }, { host: mesh.ips.echo, port: 8080 }, { host: mesh.ips.plain, port: 8080 }, ...(baseline ? [{ host: mesh.ips.echo2, port: 8080 }] : [])],
  }));
  // Two reverse proxies with the same settings: nginx-l7 alone on 127.0.0.1, nginx-hop as pod proxy-1.
  const proxyConfig = (name: string, listen: { host: string; port: number }): string =>
    buildHttpProxyConfig({ prefix: dir(name), listen, upstream: { host: '127.0.0.1', port: backendPort }, keepalive: 128 });
  const l7 = await startNginx(o.group, 'nginx-l7', dir('nginx-l7'), proxyConfig('nginx-l7', { host: '127.0.0.1', port: l7Port }));
  const hop = await startNginx(o.group, 'nginx-hop', dir('nginx-hop'), proxyConfig('nginx-hop', { host: mesh.ips.proxy, port: 8080 }));
  const source = ['--config', meshFile, '--ca-dir', dir('ca')];
  const node1 = startZtunnel(o.group, 'ztunnel-node-1', [...source, '--node', 'node-1', '--outbound', `${outEcho}=${mesh.vips.echo}:80`, '--outbound', `${outPlain}=${mesh.vips.plain}:80`,
    '--outbound', `${outProxy}=${mesh.vips.proxy}:80`,
    ...(baseline ? ['--outbound', `${outEcho2}=${mesh.vips.echo2}:80`] : []), '--admin-ip', `127.${o.subnet}.1.1`]);
  const node2 = startZtunnel(o.group, 'ztunnel-node-2', [...source, '--node', 'node-2', '--inbound-ip', mesh.ips.echo, '--inbound-ip', mesh.ips.plain, '--inbound-ip', mesh.ips.proxy,
    ...(baseline ? ['--inbound-ip', mesh.ips.echo2] : []), '--admin-ip', `127.${o.subnet}.2.1`]);
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  const startWaypoint = (label: string, build: string, account: string, ip: string): ManagedProcess => o.group.start(label, process.execPath, [...nodeArgs, build, 'waypoint', '--gateway', `bench/${account}`, ...source,
    '--listen', `${ip}:15008`, '--metrics', `${ip}:15020`, '--readiness', `${ip}:15021`, '--admin', `${ip}:15000`, '--drain', '0s', '--log-level', 'warn']);
  const waypoint = startWaypoint('waypoint', cli, 'echo', mesh.ips.waypoint);
  const base = o.baselineCli === undefined ? undefined : startWaypoint('waypoint-base', o.baselineCli, 'echo2', mesh.ips.waypoint2);
  await Promise.all([
    waitForPort(backendPort, 15_000, backend), waitForPort(l7Port, 15_000, l7),
    waitForPort(outEcho, 15_000, node1), waitForPort(outPlain, 15_000, node1), waitForPort(outProxy, 15_000, node1), ...(baseline ? [waitForPort(outEcho2, 15_000, node1)] : []),
    waitForReady(mesh.ips.waypoint, 15021, 15_000, waypoint), ...(base ? [waitForReady(mesh.ips.waypoint2, 15021, 15_000, base)] : []),
  ]);
  // node-2 listens on pod addresses only: its readiness is that the backend answers through it.
  const tracked = (label: string, p: { pid: number }): TrackedProcess => ({ label, pid: p.pid });
  const [z1, z2, wp] = [tracked('ztunnel-node-1', node1), tracked('ztunnel-node-2', node2), tracked('waypoint', waypoint)];
  const wpBase = base ? tracked('waypoint-base', base) : undefined;
  // nginx-hop's worker listens on proxy-1's address only: the path's expectBody below is its readiness.
  const [l7Worker, hopWorker] = [tracked('nginx-l7-worker', { pid: await workerOf(l7) }), tracked('nginx-hop-worker', { pid: await workerOf(hop) })];
  const paths: BenchPath[] = [
    { name: WaypointPath.Direct, port: backendPort, proxies: [] },
    { name: WaypointPath.Ztunnels, port: outPlain, proxies: [z1, z2] },
    { name: WaypointPath.Waypoint, port: outEcho, proxies: [z1, wp, z2] },
    { name: WaypointPath.NginxL7, port: l7Port, proxies: [l7Worker] },
    { name: WaypointPath.NginxHop, port: outProxy, proxies: [z1, hopWorker, z2] },
    ...(wpBase ? [{ name: WaypointPath.WaypointBase, port: outEcho2, proxies: [z1, wpBase, z2] }] : []),
  ];
  for (const p of [tracked('backend-worker', { pid: await workerOf(backend) }), z1, z2, wp, l7Worker, hopWorker, ...(wpBase ? [wpBase] : [])]) o.sampler.track(p);
  for (const p of paths) await expectBody(p, body, 15_000);
  // The waypoint path really crosses the waypoint: it counted the request (reporter waypoint).
  for (const ip of [mesh.ips.waypoint, ...(base ? [mesh.ips.waypoint2] : [])]) {
    const metrics = await get(15020, '/metrics', ip);
    if (!/^istio_requests_total\{[^}]*reporter="waypoint"[^}]*response_code="200"[^}]*\} [1-9]/m.test(metrics.body)) {
      throw new Error(`the waypoint on ${ip}: its metrics show no 200 response: ${metrics.status} ${metrics.body.slice(0, 300)}`);
    }
  }
  return { paths, waypoint: wp, ...(wpBase ? { waypointBase: wpBase } : {}), body };
}

/** `bytes` of printable ASCII (the response body of every request). */
export function bodyOf(bytes: number): string {
  const unit = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_';
  return unit.repeat(Math.ceil(bytes / unit.length)).slice(0, bytes);
}

function startZtunnel(group: ProcessGroup, label: string, args: string[]): ManagedProcess {
  return group.start(label, process.execPath, [loopbackZtunnel, ...args, '--log-level', 'warn']);
}

async function startNginx(group: ProcessGroup, label: string, prefix: string, config: string): Promise<ManagedProcess> {
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, config);
  return group.start(label, 'nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')]);
}

async function workerOf(master: ManagedProcess): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const children = childPids(master.pid);
    if (children.length === 1) return children[0]!;
    if (Date.now() > deadline) throw new Error(`${master.label}: expected 1 worker, found ${children.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function get(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${host}:${port}${path} timed out`)));
    req.on('error', reject);
  });
}

async function waitForReady(host: string, port: number, timeoutMs: number, proc: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited()) throw new Error(`${proc.label} exited before it was ready (see ${proc.logPath})`);
    const r = await get(port, '/healthz/ready', host).catch(() => undefined);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${proc.label} not ready after ${timeoutMs} ms (see ${proc.logPath})`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Every path must return the backend's exact body (retried while the ztunnels fetch certificates). */
async function expectBody(p: BenchPath, body: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await get(p.port, '/').catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === 200 && r.body === body) return;
    last = `${r.status} ${r.body.slice(0, 200)}`;
    if (Date.now() > deadline) throw new Error(`path ${p.name} (port ${p.port}) does not return the backend's body: ${last}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}
