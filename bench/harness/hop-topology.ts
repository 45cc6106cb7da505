// The processes of one benchmark run, all on 127.0.0.1: an nginx HTTP backend, the Ambit pair
// (`ambit hbone forward` -> `ambit hbone serve`) and the nginx stream mTLS pair in front of it,
// with certificates from `ambit ca`. Three paths end at the same backend: direct, ambit, nginx
// (and `ambit-base`, a second Ambit pair from another build, for A/B runs of a change).
// Placement: every process belongs to the client side (load generator, forward, nginx client)
// or the server side (serve, nginx server, backend); a policy maps each side to CPUs, the same
// for both pairs.
import { chmod, mkdir, open, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBackendConfig, buildStreamClientConfig, buildStreamServerConfig, type CertPaths } from './nginx-config.js';
import { freePort, waitForPort, type ManagedProcess, type Placement, type ProcessGroup } from './process-group.js';
import { childPids, type ProcSampler, type TrackedProcess } from './proc-sampler.js';

export const PathName = { Direct: 'direct', Ambit: 'ambit', Nginx: 'nginx', AmbitBase: 'ambit-base' } as const;
export type PathName = (typeof PathName)[keyof typeof PathName];

export interface HopPath {
  readonly name: PathName;
  /** Where the load generators connect. */
  readonly port: number;
  /** The processes doing this path's proxy work (none for direct). */
  readonly proxies: readonly TrackedProcess[];
  /** Processes of the path that only supervise (nginx masters). */
  readonly supervisors: readonly TrackedProcess[];
}

export interface HopTopology {
  readonly paths: readonly HopPath[];
  readonly backend: readonly TrackedProcess[];
  readonly smallBody: string;
  readonly bulkPath: string;
  readonly bulkBytes: number;
}

export interface HopTopologyOptions {
  /** A fresh private directory; everything the run writes goes under it. */
  readonly workDir: string;
  readonly group: ProcessGroup;
  readonly sampler: ProcSampler;
  readonly bulkBytes: number;
  /** `load_module` path for nginx's stream module, when it is not built in. */
  readonly streamModule?: string;
  /** If set, the Ambit processes run with `--cpu-prof` and write their profiles here. */
  readonly cpuProfDir?: string;
  readonly startTimeoutMs?: number;
  /** The `ambit` CLI to run (default: this build's dist/cli/ambit.js), e.g. a patched copy for an A/B run. */
  readonly ambitCli?: string;
  /** A second `ambit` CLI (e.g. the build before a change): adds the path `ambit-base`. */
  readonly baselineCli?: string;
  /** CPUs of the client side and of the server side (unset: no affinity). */
  readonly placement?: SidePlacement;
}

export interface SidePlacement {
  readonly client: Placement;
  readonly server: Placement;
}

export const CpuPolicy = { None: 'none', Split: 'split' } as const;
export type CpuPolicy = (typeof CpuPolicy)[keyof typeof CpuPolicy];

/**
 * `none`: no affinity, the scheduler places everything. `split`: the first half of the CPUs is
 * the client "node" (load generator + client-side proxy), the second half the server "node"
 * (server-side proxy + backend), as the two ends of a real hop; with 1 CPU both are CPU 0.
 */
export function sidePlacement(policy: CpuPolicy, cpus: number): SidePlacement {
  if (policy === CpuPolicy.None) return { client: {}, server: {} };
  const half = Math.max(1, Math.floor(cpus / 2));
  const list = (from: number, to: number): string => (from === to ? String(from) : `${from}-${to}`);
  return cpus < 2 ? { client: { cpus: '0' }, server: { cpus: '0' } } : { client: { cpus: list(0, half - 1) }, server: { cpus: list(half, cpus - 1) } };
}

export const trustDomain = 'cluster.local';
export const serverIdentity = `spiffe://${trustDomain}/ns/bench/sa/server`;
export const clientIdentity = `spiffe://${trustDomain}/ns/bench/sa/client`;
const smallBody = '0123456789abcdef'.repeat(4); // 64 bytes
export const defaultAmbitCli = fileURLToPath(new URL('../../cli/ambit.js', import.meta.url));

export async function startHopTopology(o: HopTopologyOptions): Promise<HopTopology> {
  const timeoutMs = o.startTimeoutMs ?? 15_000;
  const ambitCli = o.ambitCli ?? defaultAmbitCli;
  const client = o.placement?.client ?? {};
  const server = o.placement?.server ?? {};
  const dir = (name: string): string => join(o.workDir, name);
  // nginx workers run as `nobody` under root: they must be able to read bulk.bin.
  await chmod(o.workDir, 0o755);
  for (const d of ['ca', 'certs', 'logs', 'bulk', 'nginx-backend', 'nginx-client', 'nginx-server']) await mkdir(dir(d), { recursive: true, mode: 0o755 });

  const certs = await issueCertificates(o.group, ambitCli, dir('ca'), dir('certs'));
  const bulkFile = await open(join(dir('bulk'), 'bulk.bin'), 'w', 0o644);
  await bulkFile.truncate(o.bulkBytes); // sparse: reads are zero pages, no disk I/O
  await bulkFile.close();

  const [backendPort, nginxServerPort, nginxClientPort] = await Promise.all([freePort(), freePort(), freePort()]) as [number, number, number];
  const backend = await startNginx(o.group, 'nginx-backend', dir('nginx-backend'),
    buildBackendConfig({ prefix: dir('nginx-backend'), port: backendPort, smallBody, bulkRoot: dir('bulk') }), server);
  const nginxServer = await startNginx(o.group, 'nginx-server', dir('nginx-server'),
    buildStreamServerConfig({ prefix: dir('nginx-server'), streamModule: o.streamModule, listenPort: nginxServerPort, backendPort, cert: certs.server }), server);
  const nginxClient = await startNginx(o.group, 'nginx-client', dir('nginx-client'),
    buildStreamClientConfig({ prefix: dir('nginx-client'), streamModule: o.streamModule, listenPort: nginxClientPort, serverPort: nginxServerPort, cert: certs.client }), client);
  const nodeArgs = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  const startAmbitPair = async (cli: string, suffix: string): Promise<{ port: number; forward: ManagedProcess; serve: ManagedProcess }> => {
    const [servePort, forwardPort] = await Promise.all([freePort(), freePort()]) as [number, number];
    const serve = o.group.start(`ambit-serve${suffix}`, process.execPath, [...nodeArgs, cli, 'hbone', 'serve',
      '--cert-dir', certs.serverDir, '--listen', `127.0.0.1:${servePort}`, '--allow', `127.0.0.1:${backendPort}`, '--log-level', 'warn'], server);
    const forward = o.group.start(`ambit-forward${suffix}`, process.execPath, [...nodeArgs, cli, 'hbone', 'forward',
      '--cert-dir', certs.clientDir, '--listen', `127.0.0.1:${forwardPort}`, '--hbone', `127.0.0.1:${servePort}`,
      '--authority', `127.0.0.1:${backendPort}`, '--expect', serverIdentity, '--log-level', 'warn'], client);
    await Promise.all([waitForPort(servePort, timeoutMs, serve), waitForPort(forwardPort, timeoutMs, forward)]);
    return { port: forwardPort, forward, serve };
  };
  const [ambit, base] = await Promise.all([
    startAmbitPair(ambitCli, ''),
    o.baselineCli === undefined ? undefined : startAmbitPair(o.baselineCli, '-base'),
    waitForPort(backendPort, timeoutMs, backend.master),
    waitForPort(nginxServerPort, timeoutMs, nginxServer.master),
    waitForPort(nginxClientPort, timeoutMs, nginxClient.master),
  ]);
  const tracked = (label: string, p: { pid: number }): TrackedProcess => ({ label, pid: p.pid });
  const backendProcs = [tracked('backend-worker', { pid: await workerOf(backend.master) }), tracked('backend-master', backend.master)];
  const ambitPath = (name: PathName, pair: { port: number; forward: ManagedProcess; serve: ManagedProcess }): HopPath =>
    ({ name, port: pair.port, proxies: [tracked(pair.forward.label, pair.forward), tracked(pair.serve.label, pair.serve)], supervisors: [] });
  const paths: HopPath[] = [
    { name: PathName.Direct, port: backendPort, proxies: [], supervisors: [] },
    ambitPath(PathName.Ambit, ambit),
    {
      name: PathName.Nginx,
      port: nginxClientPort,
      proxies: [tracked('nginx-client-worker', { pid: await workerOf(nginxClient.master) }), tracked('nginx-server-worker', { pid: await workerOf(nginxServer.master) })],
      supervisors: [tracked('nginx-client-master', nginxClient.master), tracked('nginx-server-master', nginxServer.master)],
    },
    ...(base ? [ambitPath(PathName.AmbitBase, base)] : []),
  ];
  for (const p of [...backendProcs, ...paths.flatMap((x) => [...x.proxies, ...x.supervisors])]) o.sampler.track(p);

  // Every path must return the backend's exact body before anything is measured.
  for (const p of paths) {
    const body = await httpGetBody(p.port, '/');
    if (body !== smallBody) throw new Error(`path ${p.name} (port ${p.port}) returned ${JSON.stringify(body.slice(0, 200))}, not the backend's body`);
  }
  return { paths, backend: backendProcs, smallBody, bulkPath: '/bulk.bin', bulkBytes: o.bulkBytes };
}

interface IssuedCertificates {
  readonly serverDir: string;
  readonly clientDir: string;
  readonly server: CertPaths;
  readonly client: CertPaths;
}

/** One CA, a server and a client leaf (ECDSA P-256), all through the `ambit ca` CLI. */
async function issueCertificates(group: ProcessGroup, ambitCli: string, caDir: string, certsDir: string): Promise<IssuedCertificates> {
  const ambit = async (args: string[]): Promise<void> => {
    const r = await group.run('ambit-ca', process.execPath, [ambitCli, ...args], 30_000);
    if (r.code !== 0) throw new Error(`ambit ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  };
  await ambit(['ca', 'init', '--dir', caDir, '--trust-domain', trustDomain]);
  const serverDir = join(certsDir, 'server');
  const clientDir = join(certsDir, 'client');
  await ambit(['ca', 'issue', '--ca-dir', caDir, '--identity', serverIdentity, '--out', serverDir]);
  await ambit(['ca', 'issue', '--ca-dir', caDir, '--identity', clientIdentity, '--out', clientDir]);
  const paths = (d: string): CertPaths => ({ keyPem: join(d, 'key.pem'), chainPem: join(d, 'cert-chain.pem'), rootPem: join(d, 'root-cert.pem') });
  return { serverDir, clientDir, server: paths(serverDir), client: paths(clientDir) };
}

async function startNginx(group: ProcessGroup, label: string, prefix: string, config: string, placement: Placement): Promise<{ master: ManagedProcess }> {
  const conf = join(prefix, 'nginx.conf');
  await writeFile(conf, config);
  // The worker inherits the master's CPU mask and priority.
  const master = group.start(label, 'nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], placement);
  return { master };
}

/** The single worker of an nginx master (worker_processes 1), once it has forked. */
async function workerOf(master: ManagedProcess): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const children = childPids(master.pid);
    if (children.length === 1) return children[0]!;
    if (Date.now() > deadline) throw new Error(`${master.label}: expected 1 worker, found ${children.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function httpGetBody(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve(body));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET 127.0.0.1:${port}${path} timed out`)));
    req.on('error', reject);
  });
}
