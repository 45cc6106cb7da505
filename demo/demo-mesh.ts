// The demo's mesh as real processes: two node namespaces and five pod namespaces (addresses from
// examples/demo/mesh.yaml), a mesh CA and join tokens in a temp folder, `ambit controlplane
// --source file:<folder>/mesh` in node-1, one `ambit ztunnel` per node (iptables capture), `ambit
// waypoint` for echo's service account, the echo servers v1 and v2, a client, an outsider (not in
// the mesh), and a probe in each node and in the waypoint pod for readiness and /config_dump.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AmbitProcess, ambitCli } from './mesh-process.js';
import { Topology } from './netns-topology.js';
import { SampleApp } from './sample-app-client.js';

/** examples/demo/ in the repository (this file is compiled to dist/demo/). */
export const examplesDir = new URL('../../examples/demo/', import.meta.url).pathname;

export const demoAddresses = {
  nodes: { 'node-1': '10.15.0.1', 'node-2': '10.15.0.2' },
  pods: { client: '10.15.1.2', 'echo-v1': '10.15.1.3', 'echo-v2': '10.15.2.2', waypoint: '10.15.2.3', outsider: '10.15.2.4' },
  echoService: '10.15.96.10',
} as const;

export interface DemoMesh {
  readonly topology: Topology;
  readonly dir: string;
  readonly controlPlane: AmbitProcess;
  readonly ztunnels: Readonly<Record<'node-1' | 'node-2', AmbitProcess>>;
  readonly waypoint: AmbitProcess;
  readonly client: SampleApp;
  readonly outsider: SampleApp;
  /** Probes inside node-1, node-2 and the waypoint pod (their 127.0.0.1:15000 admin servers). */
  readonly probes: Readonly<Record<'node-1' | 'node-2' | 'waypoint', SampleApp>>;
  /** Writes examples/demo/`example` into the watched folder as `slot`.yaml (atomically). */
  apply(slot: string, example: string): void;
  /** Removes `slot`.yaml from the watched folder, if there. */
  remove(slot: string): void;
  /** Stops every process, deletes every namespace and the temp folder. */
  destroy(): Promise<void>;
}

async function waitReady(probe: SampleApp, url: string, proc: AmbitProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitReason() !== undefined) throw new Error(`${proc.name} ${proc.exitReason()}:\n${proc.tail()}`);
    const r = await probe.get(url, 1000);
    if (r.ok && r.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${proc.name} not ready within ${timeoutMs} ms: ${r.ok ? r.body : r.error}\n${proc.tail()}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Builds and starts the whole mesh; on failure everything made so far is removed. */
export async function startDemoMesh(): Promise<DemoMesh> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-demo-'));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  // Ctrl-C: this removes the folder, then the Topology's own handler deletes its namespaces and
  // processes and re-raises the signal. Registered first on purpose: the re-raised signal kills
  // the process only if no listener is left by then.
  const onSignal = (): void => removeDir();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const topology = new Topology();
  const destroy = async (): Promise<void> => {
    await topology.destroy();
    removeDir();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  try {
    const { nodes, pods } = demoAddresses;
    const node1 = topology.addNode('node1', nodes['node-1']);
    const node2 = topology.addNode('node2', nodes['node-2']);
    topology.linkNodes('node1', 'node2');
    const ns = {
      client: topology.addPod('node1', 'client', pods.client).ns,
      v1: topology.addPod('node1', 'echov1', pods['echo-v1']).ns,
      v2: topology.addPod('node2', 'echov2', pods['echo-v2']).ns,
      waypoint: topology.addPod('node2', 'waypoint', pods.waypoint).ns,
      outsider: topology.addPod('node2', 'outsider', pods.outsider).ns,
    };
    const meshDir = join(dir, 'mesh');
    mkdirSync(meshDir);
    const apply = (slot: string, example: string): void => {
      // Rewritten in place, not renamed over: the control plane's recursive fs.watch (Node 20,
      // Linux) stops reporting a file replaced by rename more than once (see the report).
      copyFileSync(join(examplesDir, example), join(meshDir, `${slot}.yaml`));
    };
    const remove = (slot: string): void => {
      try {
        unlinkSync(join(meshDir, `${slot}.yaml`));
      } catch {
        // not there
      }
    };
    apply('mesh', 'mesh.yaml');
    const caDir = join(dir, 'ca');
    const init = spawnSync(process.execPath, [ambitCli, 'ca', 'init', '--dir', caDir], { encoding: 'utf8', timeout: 20_000 });
    if (init.status !== 0) throw new Error(`ambit ca init failed: ${init.stderr}`);
    const token = (): string => randomBytes(24).toString('hex');
    const tokens = { 'node-1': token(), 'node-2': token(), waypoint: token() };
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:
  - {token: "${tokens['node-1']}", kind: ztunnel, node: node-1}
  - {token: "${tokens['node-2']}", kind: ztunnel, node: node-2}
  - {token: "${tokens.waypoint}", kind: waypoint, identity: "spiffe://cluster.local/ns/demo/sa/echo-istio-waypoint"}
`, { mode: 0o600 });
    for (const [who, t] of Object.entries(tokens)) writeFileSync(join(dir, `${who}.token`), `${t}\n`, { mode: 0o600 });
    const cpAddress = `${nodes['node-1']}:15012`;
    const controlPlane = AmbitProcess.start(topology, node1.ns, 'controlplane', ['controlplane', '--source', `file:${meshDir}`, '--ca-dir', caDir, '--tokens', join(dir, 'tokens.yaml'), '--listen', cpAddress]);
    const apps = Promise.all([
      SampleApp.start(topology, ns.client, 'client', 'client'),
      SampleApp.start(topology, ns.outsider, 'client', 'outsider'),
      SampleApp.start(topology, ns.v1, 'server', 'echo-v1', 8080),
      SampleApp.start(topology, ns.v2, 'server', 'echo-v2', 8080),
      SampleApp.start(topology, node1.ns, 'client', 'probe-node-1'),
      SampleApp.start(topology, node2.ns, 'client', 'probe-node-2'),
      SampleApp.start(topology, ns.waypoint, 'client', 'probe-waypoint'),
    ]);
    apps.catch(() => undefined);
    await controlPlane.waitForLog('control plane ready', 20_000);
    const common = ['--control-plane', cpAddress, '--root-cert', join(caDir, 'root-cert.pem'), '--log-level', 'info'];
    const ztunnels = {
      'node-1': AmbitProcess.start(topology, node1.ns, 'ztunnel node-1', ['ztunnel', '--node', 'node-1', '--token-file', join(dir, 'node-1.token'), '--drain', '1s', ...common]),
      'node-2': AmbitProcess.start(topology, node2.ns, 'ztunnel node-2', ['ztunnel', '--node', 'node-2', '--token-file', join(dir, 'node-2.token'), '--drain', '1s', ...common]),
    };
    const waypoint = AmbitProcess.start(topology, ns.waypoint, 'waypoint', ['waypoint', '--gateway', 'demo/echo', '--token-file', join(dir, 'waypoint.token'), '--drain', '1s', ...common]);
    const [client, outsider, , , probe1, probe2, probeWp] = await apps;
    const probes = { 'node-1': probe1, 'node-2': probe2, waypoint: probeWp };
    await waitReady(probes['node-1'], `http://${nodes['node-1']}:15021/healthz/ready`, ztunnels['node-1'], 25_000);
    await waitReady(probes['node-2'], `http://${nodes['node-2']}:15021/healthz/ready`, ztunnels['node-2'], 25_000);
    await waitReady(probes.waypoint, `http://${pods.waypoint}:15021/healthz/ready`, waypoint, 25_000);
    return { topology, dir, controlPlane, ztunnels, waypoint, client, outsider, probes, apply, remove, destroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}
