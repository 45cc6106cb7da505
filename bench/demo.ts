// Issue 6's benchmark of the demo: `ambit demo`'s own run (demo/run-demo.ts: the mesh of
// demo/demo-mesh.ts, the scenarios, the sample client), bounded in time, with the bench harness
// around every step's traffic: CPU of the ztunnels, the waypoint, the control plane and the sample
// apps (bench/harness/proc-sampler.ts, measure-phase.ts), their RSS, and the other load on the
// machine. The per-edge numbers are the demo's own (demo/traffic-stats.ts over
// bench/harness/latency-stats.ts) and are printed by the demo's own lines (demo/traffic-lines.ts).
// Needs root (network namespaces, iptables): exits 2 otherwise.
// Usage: npm run bench:demo [-- --quick] [--duration S] [--scenario NAME] [--out DIR]
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { DemoMesh } from '../demo/demo-mesh.js';
import { netnsSupport } from '../demo/netns-support.js';
import { runDemo, type StepRecord } from '../demo/run-demo.js';
import type { TrafficSummary } from '../demo/traffic-stats.js';
import { formatDemoBenchReport, type DemoBenchStep } from './harness/demo-report.js';
import type { Measured } from './harness/hop-report.js';
import { measurePhase } from './harness/measure-phase.js';
import { childPids, machineBusyFraction, ProcSampler, readMemoryKb } from './harness/proc-sampler.js';
import { gitCommit } from './harness/run-info.js';

interface Options {
  readonly mode: 'quick' | 'full';
  readonly durationS: number;
  readonly scenario?: string;
  readonly outDir: string;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, duration: { type: 'string' }, scenario: { type: 'string' }, out: { type: 'string' } },
  });
  const quick = values.quick === true;
  const durationS = values.duration === undefined ? (quick ? 30 : 90) : Number(values.duration);
  if (!Number.isFinite(durationS) || durationS < 10) throw new Error(`invalid --duration ${JSON.stringify(values.duration)} (at least 10 s)`);
  return {
    mode: quick ? 'quick' : 'full',
    durationS,
    ...(values.scenario !== undefined ? { scenario: values.scenario } : {}),
    outDir: values.out ?? join(repoRoot, 'bench', 'results'),
  };
}

/** The sample app a pid runs (`app-client`, `app-echo-v1`...), from its command line. */
function sampleAppLabel(pid: number): string | undefined {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = args.findIndex((a) => a.endsWith('sample-app.js'));
    return i >= 0 && args[i + 2] ? `app-${args[i + 2]}` : undefined;
  } catch {
    return undefined;
  }
}

/** Every process of the mesh, labelled; `ip netns exec` execs the program, so the pids are theirs. */
function meshProcesses(mesh: DemoMesh): { label: string; pid: number }[] {
  const ambit = [
    { label: 'ztunnel-node-1', pid: mesh.ztunnels['node-1'].pid },
    { label: 'ztunnel-node-2', pid: mesh.ztunnels['node-2'].pid },
    { label: 'waypoint', pid: mesh.waypoint.pid },
    { label: 'controlplane', pid: mesh.controlPlane.pid },
  ].filter((p): p is { label: string; pid: number } => p.pid !== undefined);
  const apps = childPids(process.pid).flatMap((pid) => {
    const label = sampleAppLabel(pid);
    return label ? [{ label, pid }] : [];
  });
  return [...ambit, ...apps];
}

async function main(): Promise<number> {
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  let o: Options;
  try {
    o = readOptions(process.argv.slice(2));
  } catch (err) {
    out(`bench:demo: ${(err as Error).message}`);
    return 2;
  }
  const support = netnsSupport();
  if (!support.ok) {
    out(`bench:demo cannot run here: ${support.reason}.`);
    out('It runs `ambit demo`\'s mesh in network namespaces with iptables capture, so it needs root on Linux with iproute2 and iptables: `sudo npm run bench:demo`.');
    return 2;
  }
  const busyBefore = await machineBusyFraction(1000);
  const loadAtStart = os.loadavg();
  out(`ambit demo benchmark: ${o.mode}, ${o.durationS} s, scenario ${o.scenario ?? 'all'}`);
  out(`machine: ${os.availableParallelism()} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}; load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}; ${Math.round(busyBefore * 100)} % busy before the run`);
  out('');
  const sampler = new ProcSampler();
  const tracked: { label: string; pid: number }[] = [];
  const steps: DemoBenchStep[] = [];
  let measured: Measured<TrafficSummary> | undefined;
  const startedAt = new Date();
  const code = await runDemo({
    ...(o.scenario !== undefined ? { scenario: o.scenario } : {}),
    durationS: o.durationS,
    check: true,
    out: process.stdout,
    observer: {
      meshUp: (mesh) => {
        for (const p of meshProcesses(mesh)) {
          tracked.push(p);
          sampler.track(p);
        }
        sampler.start(200);
      },
      traffic: async (send) => {
        measured = await measurePhase(sampler, send, 0);
        return measured.result;
      },
      stepDone: (r: StepRecord) => {
        const rssMb = Object.fromEntries(tracked.map((p) => [p.label, Math.round(((readMemoryKb(p.pid)?.rssKb ?? NaN) / 1024) * 10) / 10]));
        steps.push({
          scenario: r.scenario, label: r.step.label, from: r.step.from, url: r.url, rps: r.step.rps, seconds: r.seconds,
          summary: r.summary, verdict: r.verdict, cpu: measured?.cpu ?? { wallS: NaN, cpuS: {} }, rssMb,
        });
      },
    },
  });
  sampler.stop();
  const loadAtEnd = os.loadavg();
  out('');
  out('benchmark report (the traffic lines are the demo\'s own, from demo/traffic-lines.ts)');
  out('');
  out(formatDemoBenchReport(steps));
  const memory = sampler.memoryPeaks();
  out(`peak RSS over the run, MB: ${Object.entries(memory).filter(([k]) => !k.startsWith('app-')).map(([k, v]) => `${k} ${(v.peakRssKb / 1024).toFixed(1)}`).join(', ')}`);
  out(`load average at the start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, at the end ${loadAtEnd.map((x) => x.toFixed(2)).join(' ')}`);
  await mkdir(o.outDir, { recursive: true });
  const file = join(o.outDir, `demo-${startedAt.toISOString().replace(/[:.]/g, '-')}-${o.mode}.json`);
  const machine = { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAtEnd, busyBeforeRun: Math.round(busyBefore * 1000) / 1000 };
  await writeFile(file, `${JSON.stringify({ benchmark: 'demo', version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), commit: gitCommit(repoRoot), machine, settings: o, demoExitCode: code, processes: tracked, memory, steps }, null, 2)}\n`);
  out(`results: ${file}`);
  return code;
}

process.exitCode = await main();
