// Control plane benchmark (issue 3): compile time and memory for a synthetic cluster, and the
// time from a file edit to the delta arriving at 100 subscribed config clients, with the real
// `ambit controlplane` process. Loopback only; bounded (about a minute).
// Usage: node dist/bench/controlplane.js [--services 1000] [--pods-per-service 10] [--clients 100] [--edits 20]
//        [--cpu-prof DIR] (the control plane process runs under `node --cpu-prof`; summarize with
//        `node dist/bench/cpu-profile-summary.js DIR/*.cpuprofile`) [--verbose] (per edit: when the
//        control plane had read the file and published the delta, from its `config loaded` log line)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { controlPlaneIdentity } from '../controlplane/control-plane.js';
import { ConfigStore } from '../shared/config/config-store.js';
import { silentLogger } from '../shared/log.js';
import { ConfigClient } from '../shared/xds/config-client.js';
import { summarizeLatencies } from './harness/latency-stats.js';
import { controlPlaneChannelCredentials } from '../shared/xds/credentials.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const services = arg('services', 1000);
const podsPerService = arg('pods-per-service', 10);
const clientCount = arg('clients', 100);
const edits = arg('edits', 20);
const cpuProfDirIndex = process.argv.indexOf('--cpu-prof');
const cpuProfDir = cpuProfDirIndex > 0 ? process.argv[cpuProfDirIndex + 1] : undefined;
/** Runs the control plane at log level info and prints when it published each edit. */
const verbose = process.argv.includes('--verbose');
const namespaces = 50;
const files = 20;

function podYaml(ns: string, svc: number, i: number, ipOctet = 0): string {
  const n = svc * podsPerService + i;
  const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${(n & 255) + ipOctet > 255 ? 1 : (n & 255)}`;
  return `apiVersion: v1\nkind: Pod\nmetadata: {name: svc${svc}-pod${i}, namespace: ${ns}, labels: {app: svc${svc}, version: v${i % 2}}}\n` +
    `spec: {nodeName: node-${n % 100}, serviceAccountName: sa${svc}, containers: [{name: app, ports: [{name: http, containerPort: 8080}]}]}\n` +
    `status: {podIP: ${ip}, conditions: [{type: Ready, status: "True"}]}\n`;
}

function clusterFiles(): string[] {
  const out: string[][] = Array.from({ length: files }, () => []);
  for (let n = 0; n < namespaces; n++) out[n % files]!.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ns${n}, labels: {istio.io/dataplane-mode: ambient}}\n`);
  for (let s = 0; s < services; s++) {
    const ns = `ns${s % namespaces}`;
    const docs = out[s % files]!;
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: svc${s}, namespace: ${ns}}\nspec: {clusterIP: 10.96.${s >> 8}.${s & 255}, selector: {app: svc${s}}, ports: [{name: http, port: 80, targetPort: http}]}\n`);
    // One L4 policy per service: only callers from its own namespace and one other, on its port.
    docs.push(`apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: svc${s}-callers, namespace: ${ns}}\n` +
      `spec: {selector: {matchLabels: {app: svc${s}}}, action: ALLOW, rules: [{from: [{source: {namespaces: [${ns}, ns${(s + 1) % namespaces}]}}], to: [{operation: {ports: ["8080"]}}]}]}\n`);
    for (let i = 0; i < podsPerService; i++) docs.push(podYaml(ns, s, i));
  }
  return out.map((docs) => docs.join('---\n'));
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** The single-pod edit `e` of the bench: one label added to pod 0 of a service (text, pod name). */
function editText(texts: string[], e: number): { file: number; text: string; pod: string } {
  const svc = (e * 37) % services;
  const file = svc % files;
  const text = texts[file]!.replace(`labels: {app: svc${svc}, version: v0}}`, `labels: {app: svc${svc}, version: v0, edit: e${e}}}`);
  return { file, text, pod: `svc${svc}-pod0` };
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** A full garbage collection of this process (the bench only: `--expose-gc` set at run time). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-cp-bench-'));
  const meshDir = join(dir, 'mesh');
  mkdirSync(meshDir);
  const texts = clusterFiles();
  texts.forEach((t, i) => writeFileSync(join(meshDir, `part-${i}.yaml`), t));
  console.log(`synthetic cluster: ${namespaces} namespaces, ${services} services, ${services * podsPerService} pods, ${services} AuthorizationPolicies in ${files} files (${(texts.reduce((a, t) => a + t.length, 0) / 1e6).toFixed(1)} MB of YAML)`);

  // 1. Full parse + decode + compile, in this process, three times (each into a new store).
  const times: number[] = [];
  const decodeTimes: number[] = [];
  let store = new ConfigStore({ trustDomain: 'cluster.local' });
  for (let r = 0; r < 3; r++) {
    store = new ConfigStore({ trustDomain: 'cluster.local' });
    const t0 = performance.now();
    store.update((set) => {
      texts.forEach((t, i) => set.applyText(`part-${i}.yaml`, t));
      decodeTimes.push(performance.now() - t0);
    });
    times.push(performance.now() - t0);
    if (store.model.workloads.length !== services * podsPerService) throw new Error(`compiled ${store.model.workloads.length} workloads`);
    if (store.model.authorizations.length !== services) throw new Error(`compiled ${store.model.authorizations.length} authorizations: ${store.errors.slice(0, 3).map((e) => e.reason).join('; ')}`);
  }
  const loadMedian = [...times].sort((a, b) => a - b)[1]!;
  console.log(`full load (parse + decode + compile + index): median ${loadMedian.toFixed(0)} ms (runs in order: ${times.map((t, i) => `${t.toFixed(0)} [decode ${decodeTimes[i]!.toFixed(0)}]`).join(', ')})`);

  // 1b. The bench's edits applied in this process: the store's share of edit -> delta.
  const editTexts = [...texts];
  const updateTimes: number[] = [];
  for (let e = 0; e < edits; e++) {
    const edit = editText(editTexts, e);
    editTexts[edit.file] = edit.text;
    const t0 = performance.now();
    const delta = store.update((set) => set.applyText(`part-${edit.file}.yaml`, edit.text));
    updateTimes.push(performance.now() - t0);
    if (delta?.upsertedWorkloads.length !== 1) throw new Error(`edit ${e} changed ${delta?.upsertedWorkloads.length ?? 0} workloads`);
  }
  const update = summarizeLatencies(updateTimes);
  console.log(`one edit in-process (read text -> delta published): p50 ${update.p50Ms.toFixed(1)} ms, max ${update.maxMs.toFixed(1)} ms`);

  // 2. The control plane process, 100 clients, edits.
  const port = await freePort();
  const cli = new URL('../cli/ambit.js', import.meta.url).pathname;
  const cp = spawn(process.execPath, [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), cli, 'controlplane', '--source', `file:${meshDir}`, '--listen', `127.0.0.1:${port}`, '--ca-dir', join(dir, 'ca'), '--log-level', verbose ? 'info' : 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let cpOut = '';
  /** `config loaded` log lines by version: when the control plane published it, and its timings. */
  const published = new Map<number, { time: number; readMs: number; updateMs: number }>();
  let pendingLine = '';
  cp.stdout.on('data', (d: Buffer) => {
    if (!verbose) {
      cpOut += d.toString();
      return;
    }
    const lines = (pendingLine + d.toString()).split('\n');
    pendingLine = lines.pop()!;
    for (const line of lines) {
      if (!line.includes('"config loaded"')) continue;
      const r = JSON.parse(line) as { time: number; version: number; readMs: number; updateMs: number };
      published.set(r.version, r);
    }
  });
  cp.stderr.on('data', (d: Buffer) => { cpOut += d.toString(); });
  const clients: ConfigClient[] = [];
  let stopSampler = (): void => undefined;
  try {
    const started = Date.now();
    let rootsPem = '';
    while (!rootsPem) {
      if (Date.now() - started > 60_000) throw new Error(`control plane did not start: ${cpOut}`);
      try { rootsPem = readFileSync(join(dir, 'ca', 'root-cert.pem'), 'utf8'); } catch { await new Promise((r) => setTimeout(r, 100)); }
    }
    while (!(await portOpen(port))) {
      if (Date.now() - started > 120_000) throw new Error(`control plane did not listen: ${cpOut}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const loadedRss = rssMb(cp.pid!);
    console.log(`control plane started and loaded the folder in ${Date.now() - started} ms; RSS ${loadedRss.toFixed(0)} MB before any subscriber`);
    let peakRss = loadedRss;
    const sampler = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssMb(cp.pid!));
      } catch {
        // the process is gone; the run fails below
      }
    }, 100);
    stopSampler = () => clearInterval(sampler);
    const creds = controlPlaneChannelCredentials(rootsPem, [controlPlaneIdentity('cluster.local')]);
    for (let i = 0; i < clientCount; i++) {
      const c = new ConfigClient({ address: `127.0.0.1:${port}`, credentials: creds, node: `node-${i}`, kind: 'ztunnel', logger: silentLogger(), maxBackoffMs: 500 });
      c.start();
      clients.push(c);
    }
    const t1 = Date.now();
    await Promise.all(clients.map((c) => c.ready()));
    console.log(`${clientCount} clients received the full snapshot in ${Date.now() - t1} ms after connecting`);
    const latencies: number[] = [];
    const snapshotPeakRss = peakRss;
    const firstVersion = clients[0]!.currentVersion()!.n;
    const perEdit: string[] = [];
    // The 100 replicas make this process's heap ~1 GB; V8 collects it right after the snapshots,
    // for seconds of CPU on a 2-core machine, which would land on the first edits and starve the
    // control plane. Collect it here, before measuring (real proxies are processes of their own).
    const heapBefore = process.memoryUsage().heapUsed;
    const gcStarted = performance.now();
    collectGarbage();
    const gcMs = performance.now() - gcStarted;
    await new Promise((r) => setTimeout(r, 1000));
    console.log(`  bench process after the snapshots: heap ${(heapBefore / 1e6).toFixed(0)} MB (the 100 replicas), collected in ${gcMs.toFixed(0)} ms before the edits; RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    for (let e = 0; e < edits; e++) {
      const { file, text: newText, pod: target } = editText(texts, e);
      texts[file] = newText;
      const waits = clients.map((c) => new Promise<number>((resolve) => {
        const off = c.onChange((d) => {
          if (d.upsertedWorkloads.some((w) => w.name === target && w.labels['edit'] === `e${e}`)) {
            off();
            resolve(Date.now());
          }
        });
      }));
      const t0 = Date.now();
      writeFileSync(join(meshDir, `part-${file}.yaml`), newText);
      const arrivals = await Promise.race([Promise.all(waits), new Promise<number[]>((_, rej) => setTimeout(() => rej(new Error(`edit ${e} did not arrive within 10 s`)), 10_000))]);
      for (const a of arrivals) latencies.push(a - t0);
      const pub = published.get(e + 1 + firstVersion);
      perEdit.push(`${pub ? `[${pub.time - pub.updateMs - t0}+${pub.updateMs}] ` : ''}${Math.min(...arrivals) - t0}-${Math.max(...arrivals) - t0}(${(loopDelay.max / 1e6).toFixed(0)})`);
      loopDelay.reset();
      await new Promise((r) => setTimeout(r, 150));
    }
    const editToDelta = summarizeLatencies(latencies);
    const rss = rssMb(cp.pid!);
    stopSampler();
    peakRss = Math.max(peakRss, rss);
    console.log(`edit -> delta at ${clientCount} clients over ${edits} edits: p50 ${editToDelta.p50Ms} ms, p99 ${editToDelta.p99Ms} ms, max ${editToDelta.maxMs} ms (includes the 50 ms file-watch debounce)`);
    console.log(`  per edit, first-last client ms (bench event-loop delay max)${verbose ? ', after [control plane read the file + update ms]' : ''}: ${perEdit.join(' ')}`);
    console.log(`control plane RSS with ${clientCount} subscribers: ${rss.toFixed(0)} MB at the end; peak ${peakRss.toFixed(0)} MB (while sending the snapshots: ${snapshotPeakRss.toFixed(0)} MB), sampled every 100 ms`);
    const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    console.log(`targets: full compile <= 1000 ms: ${verdict(loadMedian <= 1000)}; edit-to-delta p99 <= 200 ms: ${verdict(editToDelta.p99Ms <= 200)}; RSS <= 300 MB: ${verdict(rss <= 300)} (peak: ${verdict(peakRss <= 300)})`);
  } finally {
    stopSampler();
    for (const c of clients) c.close();
    if (cpuProfDir) {
      // SIGTERM lets the control plane stop and write its profile.
      const exited = new Promise((r) => cp.once('exit', r));
      cp.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    cp.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
