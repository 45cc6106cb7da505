// Issue 4's benchmark: ztunnel in the netns cluster. (One file over the 500-line mark on purpose: it
// is one run's sequence — topology, paths, rounds, report — and its report needs the run's types.) Two node namespaces joined by a veth pair,
// pods as namespaces (test/support/netns.ts), the real `ambit controlplane` in node-1 and one real
// `ambit ztunnel` per node with iptables capture. One nginx HTTP backend in an enrolled pod and one
// in a non-enrolled pod on node-2; four paths measured side by side in one run:
//   direct  non-enrolled client pod -> non-enrolled backend pod (no capture, no proxy)
//   ambit   enrolled client pod -> enrolled backend pod, captured by both ztunnels (HBONE between nodes)
//   nginx   non-enrolled client pod -> nginx stream (proxy_ssl mTLS) in node-1 -> nginx stream (ssl)
//           in node-2 -> non-enrolled backend pod; certificates from `ambit ca`
//   nodetls the same placement with the smallest Node mTLS relay pair (bench/harness/node-tls-relay.ts)
//           instead of nginx: what any Node TLS proxy costs here, reported as info (--skip-node-pair)
// Per round, every metric runs on every path back to back in a rotating order
// (bench/harness/schedule.ts); PASS/FAIL by the median of the per-round values:
//   rps      wrk -c64 keep-alive            cps   wrk -c64 `Connection: close`
//   latency  1,000 requests/s paced (bench/ztunnel-netns-client.ts), p50/p99; the ztunnels' CPU
//            (utime + stime from /proc) and RSS over that phase
//   bulk     one GET of a large file with curl
// then 10,000 idle connections (each did one request) from the client pod through both ztunnels,
// both ztunnels' RSS sampled with them open.
// Usage: npm run build && node dist/bench/ztunnel-netns.js [--quick] [--rounds N] [--duration S]
//        [--latency-s S] [--hold N] [--hold-s S] [--settle-s S] [--bulk-mib N] [--nice N] [--cpu-prof DIR] [--out DIR]
//        [--metrics rps,cps,latency,bulk] [--ztunnel-node-arg FLAG]... [--ztunnel-env NAME=VALUE]...
//        [--ztunnel-arg ARG]... (e.g. --ztunnel-arg=--hbone-engine=node: the node:http2 engine) [--skip-node-pair]
// The ztunnels run as shipped: node with ztunnel/runtime-tuning.ts's ztunnelNodeOptions (the
// DaemonSet's NODE_OPTIONS), `ambit ztunnel` setting its runtime V8 flags itself.
// The summary and PASS/FAIL against the targets: bench/harness/ztunnel-netns-report.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gitCommit } from './harness/run-info.js';
import { readOptions, type Options } from './harness/ztunnel-netns-options.js';
import { prioritize } from './harness/process-group.js';
import { errs, summarize, type HoldResult, type PacedResult, type PathName, type PathRound } from './harness/ztunnel-netns-report.js';
import { buildBackendConfig, buildStreamClientConfig, buildStreamServerConfig, type CertPaths } from './harness/nginx-config.js';
import { childPids, cpuDelta, machineBusyFraction, ProcSampler, readMemoryKb, type TrackedProcess } from './harness/proc-sampler.js';
import { pathOrder } from './harness/schedule.js';
import { buildWrkArgs, parseWrkOutput, type WrkResult } from './harness/wrk.js';
import { AmbitProcess, ambitCli } from '../test/support/ambit-process.js';
import { netnsSupport, sweepStaleNamespaces, Topology, type NetnsProcess } from '../test/support/netns.js';
import { ztunnelNodeOptions } from '../ztunnel/runtime-tuning.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const clientScript = fileURLToPath(new URL('./ztunnel-netns-client.js', import.meta.url));
const relayScript = fileURLToPath(new URL('./harness/node-tls-relay.js', import.meta.url));

const nodeIp = { node1: '10.31.0.1', node2: '10.31.0.2' } as const;
const podIp = {
  client: '10.31.1.2', // bench/client, enrolled, node-1
  plainc: '10.31.1.3', // legacy/plain-client, not enrolled, node-1
  server: '10.31.2.2', // bench/server, enrolled, node-2: nginx backend :8080
  plains: '10.31.2.3', // legacy/plain-server, not enrolled, node-2: nginx backend :8080
} as const;
const backendPort = 8080;
const nginxClientPort = 9001;
const nginxServerPort = 9443;
const nodeRelayClientPort = 9002;
const nodeRelayServerPort = 9444;
const smallBody = '0123456789abcdef'.repeat(4);
interface Path {
  readonly name: PathName;
  /** Namespace of the client pod the load runs in. */
  readonly clientNs: string;
  readonly host: string;
  readonly port: number;
  /** Processes doing the proxy work of this path. */
  readonly proxies: readonly TrackedProcess[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const r3 = (x: number): number => Math.round(x * 1000) / 1000;

const mesh = (): string => {
  const pod = (name: string, ns: string, node: string, ip: string, sa: string | undefined, ports: boolean): string => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec: {nodeName: ${node}, ${sa ? `serviceAccountName: ${sa}, ` : ''}containers: [{name: c${ports ? `, ports: [{name: http, containerPort: ${backendPort}}]` : ''}}]}
status: {podIP: ${ip}, podIPs: [{ip: ${ip}}], conditions: [{type: Ready, status: "True"}]}
---`;
  return `
apiVersion: v1
kind: Namespace
metadata: {name: bench, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---${pod('client', 'bench', 'node-1', podIp.client, 'client', false)}${pod('server', 'bench', 'node-2', podIp.server, 'server', true)}${pod('plain-client', 'legacy', 'node-1', podIp.plainc, undefined, false)}${pod('plain-server', 'legacy', 'node-2', podIp.plains, undefined, true)}
`;
};

/** `text` with `from` replaced once; throws if `from` is not in it (the harness's config changed shape). */
function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`nginx config: expected ${JSON.stringify(from)} in:\n${text}`);
  return text.replace(from, to);
}

class Bench {
  readonly topo = new Topology();
  readonly sampler = new ProcSampler();
  readonly work = mkdtempSync(join(os.tmpdir(), 'ambit-bench-zt-'));
  readonly ztunnels: { node1?: NetnsProcess; node2?: NetnsProcess } = {};
  readonly procs: NetnsProcess[] = [];
  paths: Path[] = [];
  streamModule: string | undefined;
  cp: AmbitProcess | undefined;

  readonly o: Options;

  constructor(o: Options) {
    this.o = o;
    chmodSync(this.work, 0o755);
    process.once('exit', () => rmSync(this.work, { recursive: true, force: true }));
  }

  ns(name: string): string {
    return this.topo.nsOf(name);
  }

  async run(file: string, args: readonly string[], timeoutMs = 30_000, ns?: string): Promise<string> {
    const r = ns
      ? await this.topo.exec(ns, file, args, { timeoutMs })
      : spawnSync(file, [...args], { encoding: 'utf8', timeout: timeoutMs });
    const code = 'exitCode' in r ? r.exitCode : r.status;
    if (code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${code}): ${r.stderr}`);
    return r.stdout;
  }

  async setup(): Promise<void> {
    const nginxV = spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr;
    if (/--with-stream=dynamic/.test(nginxV)) {
      this.streamModule = join(/--modules-path=(\S+)/.exec(nginxV)?.[1] ?? '/usr/lib/nginx/modules', 'ngx_stream_module.so');
      if (!existsSync(this.streamModule)) throw new Error(`nginx stream module missing (${this.streamModule}): apt-get install libnginx-mod-stream`);
    }
    sweepStaleNamespaces();
    const t = this.topo;
    t.addNode('node1', nodeIp.node1);
    t.addNode('node2', nodeIp.node2);
    t.linkNodes('node1', 'node2');
    t.addPod('node1', 'client', podIp.client);
    t.addPod('node1', 'plainc', podIp.plainc);
    t.addPod('node2', 'server', podIp.server);
    t.addPod('node2', 'plains', podIp.plains);

    const dir = (d: string): string => {
      const p = join(this.work, d);
      mkdirSync(p, { recursive: true, mode: 0o755 });
      chmodSync(p, 0o755);
      return p;
    };
    const meshDir = dir('mesh');
    writeFileSync(join(meshDir, 'core.yaml'), mesh());
    const caDir = join(this.work, 'ca');
    await this.run(process.execPath, [ambitCli, 'ca', 'init', '--dir', caDir]);
    const issue = async (name: string, identity: string): Promise<CertPaths> => {
      const out = join(this.work, 'certs', name);
      await this.run(process.execPath, [ambitCli, 'ca', 'issue', '--ca-dir', caDir, '--identity', identity, '--out', out]);
      return { keyPem: join(out, 'key.pem'), chainPem: join(out, 'cert-chain.pem'), rootPem: join(out, 'root-cert.pem') };
    };
    const [clientCert, serverCert] = await Promise.all([
      issue('client', 'spiffe://cluster.local/ns/legacy/sa/nginx-client'),
      issue('server', 'spiffe://cluster.local/ns/legacy/sa/nginx-server'),
    ]);
    const tokens = { 'node-1': randomHex(), 'node-2': randomHex() };
    writeFileSync(join(this.work, 'tokens.yaml'), `tokens:\n${Object.entries(tokens).map(([n, tk]) => `  - {token: "${tk}", kind: ztunnel, node: ${n}}\n`).join('')}`);
    for (const [n, tk] of Object.entries(tokens)) writeFileSync(join(this.work, `${n}.token`), `${tk}\n`, { mode: 0o600 });

    // Bulk file (sparse) and the two backends.
    const bulkRoot = dir('bulk');
    const fd = openSync(join(bulkRoot, 'bulk.bin'), 'w', 0o644);
    ftruncateSync(fd, this.o.bulkMiB * 2 ** 20);
    closeSync(fd);
    const startNginx = (label: string, ns: string, build: (prefix: string) => string): NetnsProcess => {
      const prefix = dir(`nginx-${label}`);
      writeFileSync(join(prefix, 'nginx.conf'), build(prefix));
      const p = t.spawn(ns, 'nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')]);
      this.procs.push(p);
      return p;
    };
    const backend = (label: string, ns: string): NetnsProcess => startNginx(label, ns, (prefix) =>
      replaceOnce(buildBackendConfig({ prefix, port: backendPort, smallBody, bulkRoot }), `listen 127.0.0.1:${backendPort}`, `listen 0.0.0.0:${backendPort}`));
    const backendMesh = backend('backend-mesh', this.ns('server'));
    const backendPlain = backend('backend-plain', this.ns('plains'));
    const nginxServer = startNginx('stream-server', t.nsOf('node2'), (prefix) => replaceOnce(replaceOnce(
      buildStreamServerConfig({ prefix, streamModule: this.streamModule, listenPort: nginxServerPort, backendPort, cert: serverCert }),
      `listen 127.0.0.1:${nginxServerPort}`, `listen ${nodeIp.node2}:${nginxServerPort}`),
      `proxy_pass 127.0.0.1:${backendPort}`, `proxy_pass ${podIp.plains}:${backendPort}`));
    const nginxClient = startNginx('stream-client', t.nsOf('node1'), (prefix) => replaceOnce(replaceOnce(
      buildStreamClientConfig({ prefix, streamModule: this.streamModule, listenPort: nginxClientPort, serverPort: nginxServerPort, cert: clientCert }),
      `listen 127.0.0.1:${nginxClientPort}`, `listen ${nodeIp.node1}:${nginxClientPort}`),
      `proxy_pass 127.0.0.1:${nginxServerPort}`, `proxy_pass ${nodeIp.node2}:${nginxServerPort}`));

    // The Node relay pair in the nginx pair's places, with the same certificates.
    const relay = (ns: string, mode: 'client' | 'server', listen: readonly [string, number], up: readonly [string, number], c: CertPaths): NetnsProcess => {
      const p = t.spawn(ns, process.execPath, [relayScript, mode, listen[0], String(listen[1]), up[0], String(up[1]), c.keyPem, c.chainPem, c.rootPem]);
      this.procs.push(p);
      return p;
    };
    const relays = this.o.nodePair
      ? [relay(t.nsOf('node1'), 'client', [nodeIp.node1, nodeRelayClientPort], [nodeIp.node2, nodeRelayServerPort], clientCert),
        relay(t.nsOf('node2'), 'server', [nodeIp.node2, nodeRelayServerPort], [podIp.plains, backendPort], serverCert)]
      : [];

    // Control plane, then one ztunnel per node (access logs off: nginx logs nothing either).
    const controlPlane = `${nodeIp.node1}:15012`;
    this.cp = AmbitProcess.start(t, t.nsOf('node1'), 'controlplane', ['controlplane', '--source', `file:${meshDir}`, '--ca-dir', caDir, '--tokens', join(this.work, 'tokens.yaml'), '--listen', controlPlane, '--log-level', 'info']);
    await this.cp.waitForLog('control plane ready', 30_000);
    // The shipped configuration (the DaemonSet's NODE_OPTIONS); --ztunnel-node-arg comes later and wins.
    const nodeArgs = [...ztunnelNodeOptions, ...(this.o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', this.o.cpuProfDir] : []), ...this.o.ztunnelNodeArgs];
    if (this.o.cpuProfDir) mkdirSync(this.o.cpuProfDir, { recursive: true });
    for (const [node, ns, name] of [['node1', t.nsOf('node1'), 'node-1'], ['node2', t.nsOf('node2'), 'node-2']] as const) {
      // `env` execs node, so the pid stays the ztunnel's own.
      const [file, pre] = this.o.ztunnelEnv.length > 0 ? ['env', [...this.o.ztunnelEnv, process.execPath]] : [process.execPath, []];
      const p = t.spawn(ns, file, [...pre, ...nodeArgs, ambitCli, 'ztunnel', '--node', name, '--control-plane', controlPlane,
        '--root-cert', join(caDir, 'root-cert.pem'), '--token-file', join(this.work, `${name}.token`), '--drain', '1s', '--log-level', 'warn', ...this.o.ztunnelArgs]);
      this.ztunnels[node] = p;
      this.procs.push(p);
      // Room for the 10,000 held connections: Node raises its soft RLIMIT_NOFILE to the hard limit
      // at start-up; raise the hard limit too where that is allowed (not in every container).
      await this.run('prlimit', ['--pid', String(p.pid), '--nofile=65536:65536']).catch(() => undefined);
    }
    for (const node of ['node1', 'node2'] as const) {
      const ip = nodeIp[node];
      await this.waitFor(`${node} ztunnel ready`, async () => {
        const z = this.ztunnels[node]!;
        if (z.exitReason() !== undefined) throw new Error(`${node} ztunnel ${z.exitReason()}: ${z.stderr()}`);
        const r = await t.exec(t.nsOf(node), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `http://${ip}:15021/healthz/ready`]);
        return r.stdout.trim() === '200';
      }, 30_000);
    }
    const workerOf = async (master: NetnsProcess, label: string): Promise<TrackedProcess> => {
      let pids: number[] = [];
      await this.waitFor(`${label} worker`, () => {
        if (master.exitReason() !== undefined) throw new Error(`${label} nginx ${master.exitReason()}: ${master.stderr()}`);
        return (pids = childPids(master.pid!)).length === 1;
      }, 10_000);
      return { label, pid: pids[0]! };
    };
    const zt1: TrackedProcess = { label: 'ztunnel-node1', pid: this.ztunnels.node1!.pid! };
    const zt2: TrackedProcess = { label: 'ztunnel-node2', pid: this.ztunnels.node2!.pid! };
    const nginxProxies = [await workerOf(nginxClient, 'nginx-client-worker'), await workerOf(nginxServer, 'nginx-server-worker')];
    const backends = [await workerOf(backendMesh, 'backend-mesh-worker'), await workerOf(backendPlain, 'backend-plain-worker')];
    const relayProxies: TrackedProcess[] = relays.map((p, i) => ({ label: i === 0 ? 'node-relay-client' : 'node-relay-server', pid: p.pid! }));
    for (const p of [zt1, zt2, ...nginxProxies, ...relayProxies, ...backends]) this.sampler.track(p);
    this.sampler.start(250);
    this.paths = [
      { name: 'direct', clientNs: this.ns('plainc'), host: podIp.plains, port: backendPort, proxies: [] },
      { name: 'ambit', clientNs: this.ns('client'), host: podIp.server, port: backendPort, proxies: [zt1, zt2] },
      { name: 'nginx', clientNs: this.ns('plainc'), host: nodeIp.node1, port: nginxClientPort, proxies: nginxProxies },
      ...(this.o.nodePair ? [{ name: 'nodetls' as const, clientNs: this.ns('plainc'), host: nodeIp.node1, port: nodeRelayClientPort, proxies: relayProxies }] : []),
    ];
    for (const p of this.paths) {
      await this.waitFor(`path ${p.name} answers`, async () => {
        const r = await t.exec(p.clientNs, 'curl', ['-s', '--max-time', '2', `http://${p.host}:${p.port}/`]);
        return r.stdout === smallBody;
      }, 15_000);
    }
    // Capture is on: both nodes carry ztunnel's nat rules.
    for (const node of ['node1', 'node2']) {
      const nat = await this.run('iptables-save', ['-t', 'nat'], 10_000, t.nsOf(node));
      if (!nat.includes('AMBIT')) throw new Error(`${node}: no AMBIT capture rules:\n${nat}`);
    }
  }

  async waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async wrk(p: Path, kind: 'rps' | 'cps', durationS: number): Promise<WrkResult> {
    const args = buildWrkArgs({ url: `http://${p.host}:${p.port}/`, threads: 1, connections: this.o.connections, durationS, timeoutS: 5, ...(kind === 'cps' ? { headers: ['Connection: close'] } : {}) });
    return parseWrkOutput(await this.run('wrk', args, (durationS + 20) * 1000, p.clientNs));
  }

  async paced(p: Path): Promise<PacedResult> {
    const out = await this.run(process.execPath, [clientScript, 'paced', p.host, String(p.port), String(this.o.latencyRate), String(this.o.latencyS), '16'], (this.o.latencyS + 20) * 1000, p.clientNs);
    return JSON.parse(out) as PacedResult;
  }

  async bulk(p: Path): Promise<{ gbps: number }> {
    const out = await this.run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total} %{http_code}', `http://${p.host}:${p.port}/bulk.bin`], 120_000, p.clientNs);
    const [size, time, code] = out.trim().split(' ');
    if (code !== '200' || Number(size) !== this.o.bulkMiB * 2 ** 20) throw new Error(`bulk through ${p.name}: ${out}`);
    return { gbps: (Number(size) * 8) / Number(time) / 1e9 };
  }

  /** Runs `f` and returns its result with the CPU seconds each tracked process used meanwhile. */
  async measure<T>(f: () => Promise<T>): Promise<{ result: T; cpuS: Record<string, number>; wallS: number }> {
    const before = this.sampler.cpu();
    const t0 = performance.now();
    const result = await f();
    const wallS = (performance.now() - t0) / 1000;
    const cpuS = cpuDelta(before, this.sampler.cpu());
    await sleep(150);
    return { result, cpuS, wallS };
  }

  /** 10,000 connections held open from the client pod through both ztunnels; both ztunnels' RSS meanwhile. */
  async holdConnections(): Promise<HoldResult> {
    const rssMb = (): Record<string, number> => Object.fromEntries((['node1', 'node2'] as const).map((n) => [`ztunnel-${n}`, r3((readMemoryKb(this.ztunnels[n]!.pid!)?.rssKb ?? NaN) / 1024)]));
    const before = rssMb();
    const t0 = performance.now();
    const holder = this.topo.spawn(this.ns('client'), process.execPath, [clientScript, 'hold', podIp.server, String(backendPort), String(this.o.hold), '200']);
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: holder.child.stdout! });
      const timer = setTimeout(() => reject(new Error(`hold: no report within 120 s: ${holder.stderr()}`)), 120_000);
      rl.once('line', (l) => { clearTimeout(timer); resolve(l); });
      holder.child.once('exit', () => { clearTimeout(timer); reject(new Error(`hold client ${holder.exitReason()}: ${holder.stderr()}`)); });
    });
    const openS = (performance.now() - t0) / 1000;
    const report = JSON.parse(line) as { open: number; failed: number };
    let peak: Record<string, number> = {};
    for (let i = 0; i < Math.max(1, Math.round(this.o.holdS * 4)); i++) {
      const now = rssMb();
      peak = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, Math.max(v, peak[k] ?? 0)]));
      await sleep(250);
    }
    // Where the RSS is: file-backed (node's binary and libraries) vs anonymous (heaps).
    const split = Object.fromEntries((['node1', 'node2'] as const).map((n) => [`ztunnel-${n}`, rssSplitMb(this.ztunnels[n]!.pid!)]));
    // The same connections, still open and idle, once V8's memory reducer has collected what the
    // burst of 10,000 connects left behind (~20 s idle here): reported beside the peak, not judged.
    let settled: Record<string, number> | undefined;
    if (this.o.settleS > 0) {
      await sleep(this.o.settleS * 1000);
      settled = rssMb();
    }
    holder.child.stdin!.end();
    await holder.stop(5000);
    return { requested: this.o.hold, ...report, openSeconds: r3(openS), rssMbBefore: before, rssMbOpen: peak, ...(settled ? { rssMbSettled: settled, settleS: this.o.settleS } : {}), rssSplitMb: split };
  }

  async destroy(): Promise<void> {
    if (this.cp) await this.cp.stop(3000).catch(() => undefined);
    await Promise.all(this.procs.map((p) => p.stop(3000).catch(() => undefined)));
    await this.topo.destroy();
    rmSync(this.work, { recursive: true, force: true });
  }
}


function rssSplitMb(pid: number): { anon: number; file: number } {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone
  }
  const mb = (name: string): number => r3(Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024);
  return { anon: mb('RssAnon'), file: mb('RssFile') };
}

function randomHex(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
}


async function main(): Promise<void> {
  const o = readOptions(process.argv.slice(2), repoRoot);
  const support = netnsSupport();
  if (!support.ok) throw new Error(`cannot run: ${support.reason}`);
  for (const tool of ['wrk', 'nginx', 'curl']) if (spawnSync('which', [tool]).status !== 0) throw new Error(`${tool} is required`);
  const out = (s: string): boolean => process.stdout.write(s);
  out(`ambit ztunnel netns benchmark: ${o.mode}, ${o.rounds} rounds, wrk ${o.durationS} s x -c${o.connections}, latency ${o.latencyS} s at ${o.latencyRate} rps, bulk ${o.bulkMiB} MiB, hold ${o.hold} connections\n`);
  out(`machine: ${os.availableParallelism()} x ${os.cpus()[0]?.model ?? '?'}, ${os.type()} ${os.release()}, node ${process.version}\n`);
  // Inherited by every process started from here (`ip netns exec` keeps it), autogroup included
  // (with CONFIG_SCHED_AUTOGROUP a plain nice only ranks threads inside the group). The same as
  // bench/hbone-hop.ts's default, so the two compete on equal terms.
  if (o.nice !== 0) prioritize(process.pid, o.nice);
  // Other work on the machine skews every path alike but adds to every latency tail: say how much there was.
  const busyBefore = await machineBusyFraction(1000);
  out(`machine busy before the run: ${(busyBefore * 100).toFixed(0)} % of ${os.availableParallelism()} CPUs, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  const t0 = Date.now();
  const b = new Bench(o);
  // The Topology's own handlers kill the processes and delete the namespaces; this one runs first and removes the temp dir.
  const onSignal = (): void => rmSync(b.work, { recursive: true, force: true });
  process.prependOnceListener('SIGINT', onSignal);
  process.prependOnceListener('SIGTERM', onSignal);
  try {
    await b.setup();
    out(`setup: ${((Date.now() - t0) / 1000).toFixed(1)} s (2 nodes, 4 pods, control plane, 2 ztunnels, 4 nginx${o.nodePair ? ', 2 Node relays' : ''})\n`);
    // Same warm-up for both proxied paths (Node's JIT and heap sizing keep improving for a while).
    for (const p of b.paths.filter((x) => x.name !== 'direct')) {
      if (o.metrics.includes('rps')) await b.wrk(p, 'rps', o.warmupS.rps);
      if (o.metrics.includes('cps')) await b.wrk(p, 'cps', o.warmupS.cps);
    }
    // What each ztunnel uses with no traffic at all (its 1 s capture verify loop, timers): part of the per-1,000-rps figure.
    const idle = await b.measure(() => sleep(3000));
    const idleVcpu = Object.fromEntries(['ztunnel-node1', 'ztunnel-node2'].map((l) => [l, r3((idle.cpuS[l] ?? NaN) / idle.wallS)]));
    out(`ztunnel CPU with no traffic: ${JSON.stringify(idleVcpu)} vCPU\n`);
    const rounds: Record<PathName, PathRound>[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const r = { direct: {}, ambit: {}, nginx: {}, nodetls: {} } as Record<PathName, PathRound>;
      for (const [mi, metric] of o.metrics.entries()) {
        const order = pathOrder(b.paths, round, mi);
        const cells: string[] = [];
        for (const p of order) {
          if (metric === 'rps') {
            const m = await b.measure(() => b.wrk(p, 'rps', o.durationS));
            r[p.name].rps = { ...m.result, cpuS: m.cpuS };
            cells.push(`${p.name} ${Math.round(m.result.requestsPerSec)}${errs(m.result)}`);
          } else if (metric === 'cps') {
            const m = await b.measure(() => b.wrk(p, 'cps', o.durationS));
            r[p.name].cps = m.result;
            cells.push(`${p.name} ${Math.round(m.result.requestsPerSec)}${errs(m.result)}`);
          } else if (metric === 'latency') {
            const m = await b.measure(() => b.paced(p));
            const rssMb = Object.fromEntries(p.proxies.map((x) => [x.label, r3((readMemoryKb(x.pid)?.rssKb ?? NaN) / 1024)]));
            r[p.name].latency = { ...m.result, cpuS: m.cpuS, rssMb };
            cells.push(`${p.name} p50 ${m.result.latencyMs.p50.toFixed(3)} p99 ${m.result.latencyMs.p99.toFixed(3)} ms${m.result.errors ? ` (${m.result.errors} errors)` : ''}`);
          } else {
            const m = await b.measure(() => b.bulk(p));
            r[p.name].bulkGbps = m.result.gbps;
            cells.push(`${p.name} ${m.result.gbps.toFixed(2)} Gbit/s`);
          }
        }
        out(`  round ${round + 1} ${metric.padEnd(7)} ${cells.join('  ')}\n`);
      }
      rounds.push(r);
    }
    out(`holding ${o.hold} connections from the enrolled client pod through both ztunnels...\n`);
    const hold = await b.holdConnections();
    out(`  ${hold.open} open, ${hold.failed} failed, in ${hold.openSeconds} s; ztunnel RSS before ${JSON.stringify(hold.rssMbBefore)} MB, with them open ${JSON.stringify(hold.rssMbOpen)} MB (${JSON.stringify(hold.rssSplitMb)})${hold.rssMbSettled ? `; ${hold.settleS} s later, still open ${JSON.stringify(hold.rssMbSettled)} MB` : ''}\n`);
    const summary = summarize(o.mode, rounds, hold, b.sampler.memoryPeaks(), idleVcpu);
    out(summary.text);
    mkdirSync(o.outDir, { recursive: true });
    const file = join(o.outDir, `ztunnel-netns-${o.mode}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify({ options: o, commit: gitCommit(repoRoot), busyBefore: r3(busyBefore), loadavgAfter: os.loadavg(), machine: { cpus: os.availableParallelism(), cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version }, rounds, hold, summary: summary.json, totalSeconds: (Date.now() - t0) / 1000 }, null, 2)}\n`);
    out(`wrote ${file} (${((Date.now() - t0) / 1000).toFixed(0)} s in all)\n`);
  } finally {
    await b.destroy();
    const left = b.topo.leftovers();
    if (left.namespaces.length + left.processes.length > 0) out(`leftovers: ${JSON.stringify(left)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
