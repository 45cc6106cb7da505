// The control plane as a real process with the file source: two proxies' config clients follow
// folder edits; the control plane is SIGKILLed (clients keep their model) and restarted (clients
// resume without a wipe: their listeners see only what really changed).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { controlPlaneIdentity } from '../../controlplane/control-plane.js';
import { silentLogger } from '../../shared/log.js';
import { ConfigClient, type AppliedDelta } from '../../shared/xds/config-client.js';
import { controlPlaneChannelCredentials } from '../../shared/xds/credentials.js';
import { startProcess, type ExternalProcess } from '../support/external-process.js';
import { eventually } from '../support/mesh.js';
import { freePort } from '../support/ports.js';

const cli = new URL('../../cli/ambit.js', import.meta.url).pathname;
const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo, labels: {app: echo}}\nspec: {nodeName: node-1, containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;

describe('ambit controlplane --source file:DIR as a process', () => {
  let dir: string;
  let port: number;
  let cp: ExternalProcess | undefined;
  const clients: { c: ConfigClient; deltas: AppliedDelta[] }[] = [];

  const startControlPlane = async (): Promise<void> => {
    cp = startProcess(process.execPath, [cli, 'controlplane', '--source', `file:${join(dir, 'mesh')}`, '--listen', `127.0.0.1:${port}`, '--ca-dir', join(dir, 'ca'), '--log-level', 'info']);
    assert.ok(await eventually(() => cp!.output().includes('control plane ready') || cp!.exitReason() !== undefined, 15_000), 'control plane started');
    assert.equal(cp.exitReason(), undefined, cp.output());
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ambit-cp-'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'mesh'));
    writeFileSync(join(dir, 'mesh', 'ns.yaml'), ns);
    writeFileSync(join(dir, 'mesh', 'pods.yaml'), pod('p1', '10.0.0.1'));
    port = await freePort();
    await startControlPlane();
    const rootsPem = readFileSync(join(dir, 'ca', 'root-cert.pem'), 'utf8');
    for (const node of ['node-1', 'node-2']) {
      const c = new ConfigClient({ address: `127.0.0.1:${port}`, credentials: controlPlaneChannelCredentials(rootsPem, [controlPlaneIdentity('cluster.local')]), node, kind: 'ztunnel', logger: silentLogger(), maxBackoffMs: 300 });
      const deltas: AppliedDelta[] = [];
      c.onChange((d) => deltas.push(d));
      c.start();
      clients.push({ c, deltas });
    }
    await Promise.all(clients.map((x) => x.c.ready()));
  });
  after(async () => {
    for (const x of clients) x.c.close();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives both clients the model, then the delta of a folder edit', async () => {
    for (const x of clients) assert.deepEqual([...x.c.workloads.keys()], ['Kubernetes//Pod/demo/p1']);
    writeFileSync(join(dir, 'mesh', 'pods.yaml'), pod('p1', '10.0.0.1') + '---\n' + pod('p2', '10.0.0.2'));
    assert.ok(await eventually(() => clients.every((x) => x.c.workloads.size === 2), 3000), 'the edit reaches both clients');
    for (const x of clients) {
      const last = x.deltas.at(-1)!;
      assert.deepEqual(last.upsertedWorkloads.map((w) => w.name), ['p2']);
      assert.deepEqual(last.removedWorkloads, []);
    }
  });

  it('keeps the clients\' model while the control plane is dead, and resumes without a wipe after restart', async () => {
    const seen = clients.map((x) => x.deltas.length);
    await cp!.stop(0); // SIGTERM then immediate SIGKILL
    await new Promise((r) => setTimeout(r, 400));
    for (const x of clients) assert.equal(x.c.workloads.size, 2, 'model kept while disconnected');
    // Edit while the control plane is down: the restarted one must deliver exactly this change.
    writeFileSync(join(dir, 'mesh', 'pods.yaml'), pod('p1', '10.0.0.1') + '---\n' + pod('p2', '10.0.0.2') + '---\n' + pod('p3', '10.0.0.3'));
    await startControlPlane();
    assert.ok(await eventually(() => clients.every((x) => x.c.workloads.size === 3), 10_000), 'clients resumed');
    clients.forEach((x, i) => {
      const since = x.deltas.slice(seen[i]);
      assert.equal(since.length, 1, 'one delta after the restart');
      assert.deepEqual(since[0]!.upsertedWorkloads.map((w) => w.name), ['p3']);
      assert.deepEqual(since[0]!.removedWorkloads, [], 'nothing was wiped');
      assert.deepEqual(since[0]!.removedServices, []);
    });
  });

  it('exits 0 on SIGTERM within a few seconds even with proxies subscribed', async () => {
    assert.ok(clients.every((x) => x.c.currentVersion() !== undefined), 'clients are subscribed');
    const t0 = Date.now();
    const stopped = cp!.stop(8_000); // SIGTERM; SIGKILL only after 8 s
    await stopped;
    assert.equal(cp!.exitReason(), 'exited with code 0', cp!.output().slice(-500));
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0} ms`);
  });
});
