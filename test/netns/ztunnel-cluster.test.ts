// Issue 4, "What must be shown", in the netns tier: a real cluster on one machine, built and torn
// down by this file. Two node namespaces joined by a veth pair, pods as namespaces on routed
// veths; the real `ambit controlplane --source file:DIR` in node-1's namespace and one real
// `ambit ztunnel` per node (capture on: iptables REDIRECT + SO_ORIGINAL_DST), all processes of
// dist/cli/ambit.js; the apps are small processes (test/support/mesh-app.ts) in the pod
// namespaces. Policy changes are file writes into the control plane's watched folder.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AmbitProcess, ambitCli, type LogLine } from '../support/ambit-process.js';
import { MeshApp, type ExchangeResult } from '../support/mesh-app-client.js';
import { netnsSkip, sweepStaleNamespaces, Topology, type NetnsNode, type NetnsProcess } from '../support/netns.js';
import { readPcap } from '../support/pcap.js';
import { findExecutable } from '../support/required-tools.js';

const netns = netnsSkip();
const tcpdump = findExecutable('tcpdump') ? false : 'needs tcpdump (Debian package tcpdump) to check what crosses the node link';
// Like netnsSkip(): under CI (root, .ci/run installs tcpdump) a missing tool fails instead of skipping.
if (!netns && tcpdump && process.env.CI) throw new Error(`netns test cannot run under CI: ${tcpdump}`);
const skip = netns || tcpdump;

// Addresses of this file only (test/netns/capture.test.ts uses 10.0.0.x, 10.244.x, 10.96.0.10).
const nodeIp = { 'node-1': '10.13.0.1', 'node-2': '10.13.0.2' } as const;
const ip = {
  client: '10.13.1.2', // demo/client          enrolled, node-1
  intruder: '10.13.1.3', // other/intruder     enrolled (another namespace), node-1
  local: '10.13.1.4', // demo/local-echo       enrolled, node-1 (same-node target)
  wire: '10.13.1.5', // demo/wire              enrolled, node-1 (used only by the wire check)
  oldc: '10.13.1.6', // legacy/old-client      not enrolled, node-1
  echo: '10.13.2.2', // demo/echo-v1           enrolled, node-2: echo 8080, sink 8081
  old: '10.13.2.3', // legacy/old              not enrolled, node-2: echo 7070
} as const;
const vip = '10.13.96.10';
const td = 'cluster.local';
const spiffe = (ns: string, sa: string): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;

const pod = (name: string, ns: string, node: string, podIp: string, sa: string | undefined, labels: string, ports = ''): string => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {${labels}}}
spec: {nodeName: ${node}, ${sa ? `serviceAccountName: ${sa}, ` : ''}containers: [{name: c${ports ? `, ports: [${ports}]` : ''}}]}
status: {podIP: ${podIp}, podIPs: [{ip: ${podIp}}], conditions: [{type: Ready, status: "True"}]}
---`;

const meshYaml = `
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
---${pod('client', 'demo', 'node-1', ip.client, 'client', 'app: client')}${pod('intruder', 'other', 'node-1', ip.intruder, 'intruder', 'app: intruder')}${pod('local-echo', 'demo', 'node-1', ip.local, 'local-echo', 'app: local-echo', '{name: tcp, containerPort: 9090}')}${pod('wire', 'demo', 'node-1', ip.wire, 'wire', 'app: wire')}${pod('old-client', 'legacy', 'node-1', ip.oldc, undefined, 'app: old-client')}${pod('echo-v1', 'demo', 'node-2', ip.echo, 'echo', 'app: echo, version: v1', '{name: http, containerPort: 8080}, {name: sink, containerPort: 8081}')}${pod('old', 'legacy', 'node-2', ip.old, undefined, 'app: old', '{containerPort: 7070}')}
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: ${vip}
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: http}]
`;

const echoPolicy = (name: string, action: 'ALLOW' | 'DENY', source: string): string => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: demo}
spec:
  selector: {matchLabels: {app: echo}}
  action: ${action}
  rules: [{from: [{source: {${source}}}]}]
`;

interface Dump {
  readonly node: string;
  readonly version: string;
  readonly ready: boolean;
  readonly workloads: { name: string; namespace: string; addresses: string[]; authorizationPolicies: string[] }[];
  readonly policies: { name: string }[];
  readonly certificates: { identity: string; state: string }[];
  readonly connections: unknown[];
  readonly lateRejections: number;
}

/** Polls `check` every `intervalMs` until true; fails after `timeoutMs` with `what` and `detail()`. Returns the time it took. */
async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, detail: () => string = () => '', intervalMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) {
      const d = detail();
      throw new Error(`${what}: not within ${timeoutMs} ms${d ? `\n${d}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** How a process ended, or undefined if it is still running after `ms`. */
async function exitWithin<T>(exited: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
  });
  return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
}

const describeExchange = (r: ExchangeResult): string => `connected=${r.connected} ending=${r.ending}${r.error ? ` (${r.error})` : ''} data=${JSON.stringify(r.data.slice(0, 80))}`;

describe('a two-node Ambit cluster in network namespaces: control plane and one ztunnel per node as processes', { skip, timeout: 90_000 }, () => {
  let topo: Topology;
  let dir: string;
  let meshDir: string;
  let node1: NetnsNode;
  let node2: NetnsNode;
  let cp: AmbitProcess;
  const ztunnel: Record<'node-1' | 'node-2', AmbitProcess> = {} as Record<'node-1' | 'node-2', AmbitProcess>;
  /** A mesh-app in each node's namespace: readiness, /config_dump, a plaintext marker. */
  const nodeApp: Record<'node-1' | 'node-2', MeshApp> = {} as Record<'node-1' | 'node-2', MeshApp>;
  const apps: Record<keyof typeof ip, MeshApp> = {} as Record<keyof typeof ip, MeshApp>;
  const timings: Record<string, number> = {};

  const configDump = async (node: 'node-1' | 'node-2'): Promise<Dump> => {
    const r = await nodeApp[node].httpGet('http://127.0.0.1:15000/config_dump');
    if (!r.ok || r.status !== 200) throw new Error(`${node} /config_dump: ${r.ok ? `status ${r.status}` : r.error}\n${ztunnel[node].tail()}`);
    return JSON.parse(r.body) as Dump;
  };
  /** Waits until `node`'s ztunnel's /config_dump satisfies `pred` (a pushed config reached it). */
  const waitForDump = async (node: 'node-1' | 'node-2', what: string, pred: (d: Dump) => boolean, timeoutMs = 3000): Promise<number> => {
    let last: Dump | undefined;
    return waitUntil(`${node}: ${what}`, async () => pred((last = await configDump(node))), timeoutMs, () => `last dump: version ${last?.version}, policies ${JSON.stringify(last?.policies.map((p) => p.name))}`);
  };
  const policyNames = (d: Dump): string[] => d.policies.map((p) => p.name).sort();
  const workload = (d: Dump, name: string): Dump['workloads'][number] | undefined => d.workloads.find((w) => w.name === name);

  /** Writes a file into the watched folder atomically (written beside it, then renamed in). */
  const writeMesh = (file: string, text: string): void => {
    const tmp = join(dir, `.${file}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(meshDir, file));
  };
  const removeMesh = (file: string): void => unlinkSync(join(meshDir, file));
  /** Back to core.yaml alone, in force at every running ztunnel (so one failed test does not leave its policy to the next). */
  const resetMesh = async (): Promise<void> => {
    for (const f of readdirSync(meshDir)) if (f !== 'core.yaml') removeMesh(f);
    for (const node of ['node-1', 'node-2'] as const) {
      if (ztunnel[node].exitReason() === undefined) await waitForDump(node, 'no policy in force', (d) => d.policies.length === 0);
    }
  };

  const natRules = async (node: NetnsNode): Promise<string[]> => {
    const r = await topo.exec(node.ns, 'iptables-save', ['-t', 'nat']);
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l.includes('AMBIT'));
  };

  const echoed = (r: ExchangeResult, payload: string, what: string): void => {
    assert.equal(r.data, payload, `${what}: expected the payload echoed; got ${describeExchange(r)}`);
    assert.equal(r.ending, 'end', `${what}: ${describeExchange(r)}`);
  };
  /** Refused by ztunnel: nothing came back and the connection did not end normally. */
  const refused = (r: ExchangeResult, what: string): void => {
    assert.equal(r.data, '', `${what}: expected no answer; got ${describeExchange(r)}`);
    assert.notEqual(r.ending, 'end', `${what}: expected a reset or refusal; got ${describeExchange(r)}`);
    assert.notEqual(r.ending, 'timeout', `${what}: expected a prompt refusal; got ${describeExchange(r)}`);
  };

  before(async () => {
    const t0 = Date.now();
    sweepStaleNamespaces();
    topo = new Topology();
    node1 = topo.addNode('node1', nodeIp['node-1']);
    node2 = topo.addNode('node2', nodeIp['node-2']);
    topo.linkNodes('node1', 'node2');
    const podNs: Record<keyof typeof ip, string> = {} as Record<keyof typeof ip, string>;
    for (const name of Object.keys(ip) as (keyof typeof ip)[]) {
      podNs[name] = topo.addPod(ip[name].startsWith('10.13.1.') ? 'node1' : 'node2', name, ip[name]).ns;
    }

    timings['topologyMs'] = Date.now() - t0;
    dir = mkdtempSync(join(tmpdir(), 'ambit-zt-cluster-'));
    meshDir = join(dir, 'mesh');
    mkdirSync(meshDir);
    writeFileSync(join(meshDir, 'core.yaml'), meshYaml);
    const caDir = join(dir, 'ca');
    const init = spawnSync(process.execPath, [ambitCli, 'ca', 'init', '--dir', caDir], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(init.status, 0, `ambit ca init: ${init.stderr}`);
    timings['caInitMs'] = Date.now() - t0;
    const tokens = { 'node-1': randomBytes(24).toString('hex'), 'node-2': randomBytes(24).toString('hex') };
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n${Object.entries(tokens).map(([node, token]) => `  - {token: "${token}", kind: ztunnel, node: ${node}}\n`).join('')}`);
    for (const [node, token] of Object.entries(tokens)) writeFileSync(join(dir, `${node}.token`), `${token}\n`, { mode: 0o600 });

    const controlPlane = `${nodeIp['node-1']}:15012`;
    cp = AmbitProcess.start(topo, node1.ns, 'controlplane', ['controlplane', '--source', `file:${meshDir}`, '--ca-dir', caDir, '--tokens', join(dir, 'tokens.yaml'), '--listen', controlPlane]);
    // The apps start while the control plane loads; ztunnels only once it serves (their config client backs off otherwise).
    const appsStarted = Promise.all([
      ...(['node-1', 'node-2'] as const).map(async (node) => {
        nodeApp[node] = await MeshApp.start(topo, node === 'node-1' ? node1.ns : node2.ns, `${node}-agent`, nodeIp[node]);
      }),
      ...(Object.keys(ip) as (keyof typeof ip)[]).map(async (name) => {
        apps[name] = await MeshApp.start(topo, podNs[name], name, ip[name]);
      }),
    ]);
    appsStarted.catch(() => undefined);
    const cpReady = await cp.waitForLog('control plane ready', 20_000);
    assert.equal(cpReady['workloads'], 7, `the control plane compiled the mesh: ${cp.tail()}`);
    timings['controlPlaneReadyMs'] = Date.now() - t0;

    for (const [node, ns] of [['node-1', node1.ns], ['node-2', node2.ns]] as const) {
      ztunnel[node] = AmbitProcess.start(topo, ns, `ztunnel ${node}`, [
        'ztunnel', '--node', node, '--control-plane', controlPlane, '--root-cert', join(caDir, 'root-cert.pem'), '--token-file', join(dir, `${node}.token`), '--drain', '2s',
        '--log-level', process.env.AMBIT_NETNS_LOG_LEVEL ?? 'info',
      ]);
    }
    await appsStarted;
    await apps.echo.listen(8080, 'echo');
    await apps.echo.listen(8081, 'sink');
    await apps.local.listen(9090, 'echo');
    await apps.old.listen(7070, 'echo');
    timings['appsMs'] = Date.now() - t0;
    for (const node of ['node-1', 'node-2'] as const) {
      let last = '';
      await waitUntil(`${node} ztunnel ready (/healthz/ready on ${nodeIp[node]}:15021)`, async () => {
        if (ztunnel[node].exitReason() !== undefined) throw new Error(`${node} ztunnel ${ztunnel[node].exitReason()}:\n${ztunnel[node].tail()}`);
        const r = await nodeApp[node].httpGet(`http://${nodeIp[node]}:15021/healthz/ready`, 1000);
        last = r.ok ? `${r.status} ${r.body.trim()}` : r.error;
        return r.ok && r.status === 200;
      }, 25_000, () => `last answer: ${last}\n${ztunnel[node].tail()}`, 100);
    }
    timings['setupMs'] = Date.now() - t0;
  });

  after(async () => {
    await topo?.destroy();
    // AMBIT_NETNS_LOGS=<dir> keeps every process's log lines, for looking into a failure.
    const keep = process.env.AMBIT_NETNS_LOGS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      for (const p of [cp, ztunnel['node-1'], ztunnel['node-2']]) {
        if (p) writeFileSync(join(keep, `${p.name.replace(/ /g, '-')}.log`), `${p.logs.map((l) => JSON.stringify(l)).join('\n')}\nstderr:\n${p.stderr()}`);
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`# timings (ms): ${JSON.stringify(timings)}`);
  });

  it('puts only TLS on port 15008 on the node link, never the plaintext payload (tcpdump on node-1\'s end)', async () => {
    // Only the `wire` pod talks here, so its HBONE session to node-2 is new: the capture holds its handshake.
    const token = `ambit-wire-secret-${randomBytes(6).toString('hex')}`;
    const payload = `${token} `.repeat(100);
    const pcapFile = join(dir, 'node-link.pcap');
    const dump: NetnsProcess = topo.spawn(node1.ns, 'tcpdump', ['-i', 'to-node2', '-n', '-s', '0', '-U', '--immediate-mode', '-Z', 'root', '-w', pcapFile]);
    try {
      await waitUntil('tcpdump listening on to-node2', () => dump.stderr().includes('listening on') || dump.exitReason() !== undefined, 5000, () => dump.stderr());
      assert.equal(dump.exitReason(), undefined, `tcpdump ${dump.exitReason()}: ${dump.stderr()}`);
      const r = await apps.wire.exchange(ip.echo, 8081, payload);
      assert.equal(r.ending, 'end', `wire -> echo sink: ${describeExchange(r)}`);
      await waitUntil('the sink reports the payload', () => apps.echo.received.some((x) => x.data === payload), 2000);
      // A plaintext marker sent across the link after the exchange: once tcpdump wrote it, it wrote everything before it.
      const marker = `marker-${randomBytes(6).toString('hex')}`;
      const m = await nodeApp['node-1'].httpGet(`http://${nodeIp['node-2']}:15021/healthz/ready?${marker}`);
      assert.ok(m.ok && m.status === 200, `marker request: ${JSON.stringify(m)}`);
      await waitUntil('tcpdump wrote the marker', () => readFileSync(pcapFile).includes(marker), 3000, () => dump.stderr());
    } finally {
      await dump.stop();
    }
    const cap = readPcap(readFileSync(pcapFile));
    assert.equal(cap.linkType, 1, 'Ethernet frames on a veth');
    const hbone = cap.tcp.filter((s) => (s.dstPort === 15008 && s.dst === ip.echo) || (s.srcPort === 15008 && s.src === ip.echo));
    assert.ok(hbone.some((s) => s.dstPort === 15008 && s.src === nodeIp['node-1']), 'packets from node-1 (its ztunnel) to echo:15008');
    assert.ok(hbone.some((s) => s.srcPort === 15008), 'packets back from echo:15008');
    const handshake = (b: Buffer): boolean => b.length >= 5 && b[0] === 0x16 && b[1] === 0x03;
    assert.ok(hbone.some((s) => s.dstPort === 15008 && handshake(s.payload)), 'a TLS handshake record (ClientHello) to 15008');
    assert.ok(hbone.some((s) => s.srcPort === 15008 && handshake(s.payload)), 'a TLS handshake record (ServerHello) from 15008');
    const hboneBytes = hbone.reduce((n, s) => n + s.payload.length, 0);
    assert.ok(hboneBytes > payload.length, `the payload crossed on 15008 (${hboneBytes} bytes there, payload ${payload.length})`);
    assert.equal(cap.raw.includes(token), false, 'the payload appears nowhere in the capture');
    assert.deepEqual(cap.tcp.filter((s) => [8080, 8081].includes(s.dstPort) || [8080, 8081].includes(s.srcPort)), [], 'the app port never crosses the link');
    timings['wirePackets'] = cap.frames;
  });

  it('carries cross-node pod traffic through both ztunnels over HBONE, to a pod and through a service VIP', async () => {
    const before = apps.echo.acceptedCount(8080);
    const [m1, m2] = [ztunnel['node-1'].mark(), ztunnel['node-2'].mark()];
    echoed(await apps.client.exchange(ip.echo, 8080, 'hello across nodes'), 'hello across nodes', 'client -> echo');
    assert.equal(apps.echo.acceptedCount(8080), before + 1);
    // The app's peer is node-2's ztunnel (the node address), not the client pod.
    assert.equal(apps.echo.accepted.at(-1)!.remote.ip, nodeIp['node-2']);
    const isClient = (l: LogLine): boolean => l['src.identity'] === spiffe('demo', 'client');
    const out = await ztunnel['node-1'].waitForLog('connection complete', 2000, (l) => l['direction'] === 'outbound' && isClient(l) && l['dst.hbone_addr'] === `${ip.echo}:8080`, m1);
    assert.equal(out['dst.addr'], `${ip.echo}:15008`);
    assert.equal(out['src.addr'], `${ip.client}:${(out['src.addr'] as string).split(':')[1]}`);
    const inbound = await ztunnel['node-2'].waitForLog('connection complete', 2000, (l) => l['direction'] === 'inbound' && isClient(l), m2);
    assert.equal(inbound['dst.identity'], spiffe('demo', 'echo'));

    const m3 = ztunnel['node-1'].mark();
    echoed(await apps.client.exchange(vip, 80, 'via the service'), 'via the service', 'client -> VIP:80');
    const svc = await ztunnel['node-1'].waitForLog('connection complete', 2000, (l) => l['dst.service'] === 'echo.demo.svc.cluster.local', m3);
    assert.equal(svc['dst.hbone_addr'], `${ip.echo}:8080`, 'the VIP went to the endpoint\'s named target port');
  });

  it('carries same-node pod traffic through the node\'s own ztunnel over HBONE', async () => {
    const mark = ztunnel['node-1'].mark();
    echoed(await apps.client.exchange(ip.local, 9090, 'same node'), 'same node', 'client -> local-echo');
    assert.equal(apps.local.accepted.at(-1)!.remote.ip, nodeIp['node-1'], 'the app\'s peer is node-1\'s ztunnel');
    const inbound = await ztunnel['node-1'].waitForLog('connection complete', 2000, (l) => l['direction'] === 'inbound' && l['dst.hbone_addr'] === `${ip.local}:9090`, mark);
    assert.equal(inbound['src.identity'], spiffe('demo', 'client'), 'node-1\'s own inbound saw the client\'s mTLS identity');
  });

  it('leaves a namespace that is not enrolled untouched: no capture, no ztunnel, no certificate', async () => {
    const [m1, m2] = [ztunnel['node-1'].mark(), ztunnel['node-2'].mark()];
    echoed(await apps.oldc.exchange(ip.old, 7070, 'legacy to legacy'), 'legacy to legacy', 'old-client -> old');
    assert.equal(apps.old.accepted.at(-1)!.remote.ip, ip.oldc, 'the app sees the client pod itself: no proxy in between');
    const mentions = (l: LogLine): boolean => JSON.stringify(l).includes(ip.oldc) || JSON.stringify(l).includes(ip.old);
    assert.deepEqual(ztunnel['node-1'].logs.slice(m1).filter(mentions), [], 'node-1\'s ztunnel saw nothing of it');
    assert.deepEqual(ztunnel['node-2'].logs.slice(m2).filter(mentions), [], 'node-2\'s ztunnel saw nothing of it');
    const rules1 = (await natRules(node1)).join('\n');
    const rules2 = (await natRules(node2)).join('\n');
    for (const enrolled of [ip.client, ip.intruder, ip.local, ip.wire]) assert.ok(rules1.includes(`-s ${enrolled}/32 `), `node-1 captures ${enrolled}`);
    assert.ok(rules2.includes(`-s ${ip.echo}/32 `), `node-2 captures ${ip.echo}`);
    for (const legacy of [ip.oldc, ip.old]) {
      assert.ok(!rules1.includes(`${legacy}/`), `node-1 has no rule for ${legacy}`);
      assert.ok(!rules2.includes(`${legacy}/`), `node-2 has no rule for ${legacy}`);
    }
    const certs = async (node: 'node-1' | 'node-2'): Promise<string[]> => (await configDump(node)).certificates.filter((c) => c.state === 'Available').map((c) => c.identity).sort();
    assert.deepEqual(await certs('node-1'), [spiffe('demo', 'client'), spiffe('demo', 'local-echo'), spiffe('demo', 'wire'), spiffe('other', 'intruder')]);
    assert.deepEqual(await certs('node-2'), [spiffe('demo', 'echo')]);
  });

  it('allows and denies by principal and by namespace (policy files applied by the control plane)', async () => {
    const steps = [
      { policy: echoPolicy('allow-client', 'ALLOW', `principals: [${td}/ns/demo/sa/client]`), allowed: 'client', denied: 'intruder' },
      { policy: echoPolicy('allow-other', 'ALLOW', 'namespaces: [other]'), allowed: 'intruder', denied: 'client' },
      { policy: echoPolicy('deny-intruder', 'DENY', `principals: [${td}/ns/other/sa/intruder]`), allowed: 'client', denied: 'intruder' },
      { policy: echoPolicy('deny-demo', 'DENY', 'namespaces: [demo]'), allowed: 'intruder', denied: 'client' },
    ] as const;
    await resetMesh();
    let previous: string | undefined;
    const applied: number[] = [];
    for (const [i, step] of steps.entries()) {
      const name = /name: ([a-z-]+)/.exec(step.policy)![1]!;
      writeMesh(`policy-${name}.yaml`, step.policy);
      if (previous) removeMesh(`policy-${previous}.yaml`);
      previous = name;
      applied.push(await waitForDump('node-2', `policy ${name} alone in force`, (d) => policyNames(d).join() === `demo/${name}` && (workload(d, 'echo-v1')?.authorizationPolicies.join() ?? '') === `demo/${name}`));
      const before = apps.echo.acceptedCount(8080);
      const mark = ztunnel['node-2'].mark();
      const payload = `step ${i} from ${step.allowed}`;
      echoed(await apps[step.allowed].exchange(ip.echo, 8080, payload), payload, `${name}: ${step.allowed} -> echo`);
      refused(await apps[step.denied].exchange(ip.echo, 8080, `step ${i} from ${step.denied}`), `${name}: ${step.denied} -> echo`);
      assert.equal(apps.echo.acceptedCount(8080), before + 1, `${name}: the denied connection never reached the app`);
      // node-2's ztunnel says why: the DENY policy that matched, or no ALLOW policy matching.
      const denial = await ztunnel['node-2'].waitForLog('inbound connection denied by policy', 2000, (l) => (l['peer'] as { serviceAccount?: string })?.serviceAccount === step.denied, mark);
      if (step.policy.includes('action: DENY')) assert.deepEqual([denial['reason'], denial['policy']], ['explicitly_denied', `demo/${name}`]);
      else assert.equal(denial['reason'], 'not_allowed');
    }
    await resetMesh();
    timings['policyApplyMaxMs'] = Math.max(...applied);
    assert.ok(Math.max(...applied) < 2000, `policy files applied at the ztunnel in ${applied.join(', ')} ms`);
  });

  it('refuses a plaintext client under STRICT PeerAuthentication, accepts it under PERMISSIVE', async () => {
    await resetMesh();
    const before = apps.echo.acceptedCount(8080);
    echoed(await apps.oldc.exchange(ip.echo, 8080, 'plain, permissive'), 'plain, permissive', 'legacy client -> echo (PERMISSIVE)');
    assert.equal(apps.echo.accepted.at(-1)!.remote.ip, nodeIp['node-2'], 'the plaintext connection was captured by node-2\'s ztunnel (15006)');
    writeMesh('peer-authentication.yaml', `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec: {mtls: {mode: STRICT}}
`);
    await waitForDump('node-2', 'STRICT folded into echo\'s policies', (d) => (workload(d, 'echo-v1')?.authorizationPolicies ?? []).some((p) => p.includes('converted_peer_authentication_strict')));
    const mark = ztunnel['node-2'].mark();
    refused(await apps.oldc.exchange(ip.echo, 8080, 'plain, strict'), 'legacy client -> echo (STRICT)');
    assert.equal(apps.echo.acceptedCount(8080), before + 1, 'the plaintext connection never reached the app');
    await ztunnel['node-2'].waitForLog('inbound plaintext connection refused', 2000, (l) => (l['src'] as { ip?: string })?.ip === ip.oldc, mark);
    echoed(await apps.client.exchange(ip.echo, 8080, 'mTLS, strict'), 'mTLS, strict', 'mesh client -> echo (STRICT)');
    await resetMesh();
    echoed(await apps.oldc.exchange(ip.echo, 8080, 'plain again'), 'plain again', 'legacy client -> echo (PERMISSIVE again)');
  });

  let lateRejectionEnding: string | undefined;

  it('closes a live connection within 2 s when a policy change denies it, and keeps one still allowed', async () => {
    await resetMesh();
    const denied = await apps.client.open(ip.echo, 8080);
    const kept = await apps.intruder.open(ip.echo, 8080);
    assert.deepEqual(await denied.ping('a1'), { ok: true });
    assert.deepEqual(await kept.ping('b1'), { ok: true });
    await waitForDump('node-2', 'both connections tracked', (d) => d.connections.length === 2);
    const mark = ztunnel['node-2'].mark();
    const t0 = Date.now();
    writeMesh('policy-deny-client.yaml', echoPolicy('deny-client', 'DENY', `principals: [${td}/ns/demo/sa/client]`));
    const closed = await denied.whenClosed(3000, 'the now-denied connection');
    timings['policyCloseMs'] = closed.atMs - t0;
    assert.ok(closed.atMs - t0 < 2000, `closed ${closed.atMs - t0} ms after the policy file was written`);
    lateRejectionEnding = closed.ending;
    assert.deepEqual(await kept.ping('b2'), { ok: true }, 'the other principal\'s connection still works');
    assert.equal(kept.closed, undefined);
    const log = await ztunnel['node-2'].waitForLog('AuthorizationPolicyLateRejection: connections closed due to policy change', 2000, () => true, mark);
    assert.equal(log['closed'], 1, 'exactly one connection closed');
    refused(await apps.client.exchange(ip.echo, 8080, 'again'), 'a new connection from the denied principal');
    await kept.close();
    await resetMesh();
    await waitForDump('node-2', 'no connection left', (d) => d.connections.length === 0);
  });

  it('signals a connection closed by a policy change to the client as a reset, not a clean end', () => {
    assert.ok(lateRejectionEnding !== undefined, 'the policy-change test ran');
    assert.notEqual(lateRejectionEnding, 'end', `the client saw: ${lateRejectionEnding}`);
  });

  it('drains on SIGTERM: refuses new connections, keeps a live one until --drain (2 s), exits 0 and removes its rules', async () => {
    await resetMesh();
    const z = ztunnel['node-1'];
    const live = await apps.client.open(ip.echo, 8080);
    assert.deepEqual(await live.ping('before'), { ok: true });
    assert.ok((await natRules(node1)).length > 0);
    const t0 = Date.now();
    z.kill('SIGTERM');
    const draining = await z.waitForLog('draining', 2000);
    assert.equal(draining['connections'], 1);
    const before = apps.echo.acceptedCount(8080);
    const fresh = await apps.client.exchange(ip.echo, 8080, 'while draining');
    // Capture still sends it to 15001, where nothing listens any more: the kernel refuses it.
    assert.deepEqual([fresh.connected, fresh.ending, fresh.data], [false, 'refused', ''], `a new connection while draining: ${describeExchange(fresh)}`);
    assert.equal(apps.echo.acceptedCount(8080), before);
    // Ping the live connection until ztunnel closes it at the drain deadline.
    let lastOk = 0;
    let n = 0;
    while (!live.closed && Date.now() - t0 < 5000) {
      const p = await live.ping(`during-${n++}`, 1000);
      if (p.ok) lastOk = Date.now() - t0;
      else break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const closed = await live.whenClosed(5000 - (Date.now() - t0), 'the live connection at the drain deadline');
    const closedAt = closed.atMs - t0;
    const exit = await exitWithin(z.exited, 6000 - (Date.now() - t0));
    const exitedAt = Date.now() - t0;
    timings['drainLastPingMs'] = lastOk;
    timings['drainClosedMs'] = closedAt;
    timings['drainExitMs'] = exitedAt;
    assert.ok(lastOk >= 1500, `the live connection kept working during the drain (last echo at ${lastOk} ms)`);
    assert.ok(closedAt >= 1800 && closedAt < 4000, `closed at the 2 s deadline (at ${closedAt} ms)`);
    assert.deepEqual(exit, { code: 0, signal: null }, `ztunnel exited 0 within 6 s: ${z.tail()}`);
    assert.equal(z.find('drain deadline reached; closing the remaining connections')[0]?.['left'], 1);
    assert.deepEqual(await natRules(node1), [], 'node-1\'s capture rules are gone');
    // The other end lets go too: node-2's inbound side of the drained connection is released.
    timings['drainPeerReleasedMs'] = await waitForDump('node-2', 'node-2 released the drained connection', (d) => d.connections.length === 0, 1000);
  });

  it('leaves no namespace, link, nat rule or process behind', async () => {
    const z = ztunnel['node-2'];
    const t0 = Date.now();
    z.kill('SIGTERM');
    const exit = await exitWithin(z.exited, 5000);
    timings['ztunnelExitMs'] = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, `node-2 ztunnel exited 0: ${z.tail()}`);
    assert.deepEqual(await natRules(node2), [], 'node-2\'s capture rules are gone');
    cp.kill('SIGTERM');
    const t1 = Date.now();
    const cpExit = await exitWithin(cp.exited, 5000);
    timings['controlPlaneExitMs'] = Date.now() - t1;
    assert.deepEqual(cpExit, { code: 0, signal: null }, `control plane exited 0: ${cp.tail()}`);
    timings['stopProcessesMs'] = Date.now() - t0;
    await topo.destroy();
    timings['teardownMs'] = Date.now() - t0;
    assert.deepEqual(topo.leftovers(), { namespaces: [], links: [], natRules: [], processes: [] });
  });
});
