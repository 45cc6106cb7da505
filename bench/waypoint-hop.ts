// Issue 5's benchmark: the waypoint hop. One nginx HTTP backend (1 KiB response body) reached five
// ways in one run, all on loopback (bench/harness/waypoint-topology.ts):
//   direct    wrk -> backend
//   ztunnels  wrk -> ztunnel node-1 ==HBONE==> ztunnel node-2 -> backend
//   waypoint  wrk -> ztunnel node-1 ==HBONE==> `ambit waypoint` ==HBONE==> ztunnel node-2 -> backend
//   nginx-l7  wrk -> nginx reverse proxy (keep-alive upstream, 1 worker) -> backend  (outside the mesh)
//   nginx-hop wrk -> ztunnel node-1 ==HBONE==> ztunnel node-2 -> nginx reverse proxy (pod proxy-1) -> backend
// The rate target is judged as waypoint / nginx-hop: nginx in the waypoint's place ("on the same
// hop"), with as many proxy processes on the path; waypoint / nginx-l7 is kept for reference.
// Per round: (1) `wrk -t1 -c64 --latency` on every path back to back, in an order that rotates
// and reverses from round to round (bench/harness/schedule.ts), in passes that alternate the
// order: request rate and p50/p99 at 64 connections; (2) a fixed 1,000 requests/s
// (bench/ztunnel-netns-client.ts paced, 32 keep-alive connections, one request in flight each) through the waypoint and
// through nginx-l7: the waypoint's CPU (utime+stime from /proc) per 1,000 rps and its RSS.
// PASS/FAIL by the median of per-round values (the waypoint/nginx-hop ratio is taken inside each
// round). Other work on the machine is measured per phase and reported.
// Usage: npm run bench:waypoint [-- --quick] [--rounds N] [--passes N] [--duration S] [--paced-s S]
//        [--rate N] [--paced-connections N] [--nice N] [--cpu-prof DIR] [--out DIR] [--keep-temp]
//        [--ambit-cli PATH] [--baseline-cli PATH] (a second waypoint from another build, path
//        `waypoint-base`, measured in the same rounds: the A/B of a waypoint change)
import { mkdir, writeFile } from 'node:fs/promises';
import { runLoopbackBench } from './harness/bench-main.js';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { combineMeasured, combineWrk } from './harness/combine.js';
import type { Measured } from './harness/hop-report.js';
import { ProcessGroup } from './harness/process-group.js';
import { machineBusyFraction, ProcSampler, readMemoryKb } from './harness/proc-sampler.js';
import { gitCommit } from './harness/run-info.js';
import { measurePhase } from './harness/measure-phase.js';
import { pathOrder } from './harness/schedule.js';
import { buildWaypointSummary, formatWaypointReport, type PacedSample, type RpsSample, type WaypointRound } from './harness/waypoint-report.js';
import { startWaypointTopology, WaypointPath, type BenchPath, type WaypointTopology } from './harness/waypoint-topology.js';
import { runWrk, totalSocketErrors, type WrkResult } from './harness/wrk.js';

interface Options {
  readonly mode: 'quick' | 'full';
  readonly rounds: number;
  readonly passes: number;
  readonly durationS: number;
  readonly pacedS: number;
  readonly rate: number;
  readonly connections: number;
  readonly pacedConnections: number;
  readonly warmupS: number;
  readonly nice: number;
  readonly outDir: string;
  readonly cpuProfDir?: string;
  readonly keepTemp: boolean;
  readonly ambitCli?: string;
  readonly baselineCli?: string;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const pacedClient = fileURLToPath(new URL('./ztunnel-netns-client.js', import.meta.url));
const settleMs = 150;
const bodyBytes = 1024;
const subnet = 213;

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      passes: { type: 'string' },
      duration: { type: 'string', default: '1' },
      'paced-s': { type: 'string' },
      rate: { type: 'string', default: '1000' },
      connections: { type: 'string', default: '64' },
      'paced-connections': { type: 'string', default: '32' },
      nice: { type: 'string', default: '-5' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'keep-temp': { type: 'boolean', default: false },
      'ambit-cli': { type: 'string' },
      'baseline-cli': { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const num = (v: string | undefined, dflt: number, min: number): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`invalid number ${JSON.stringify(v)}`);
    return n;
  };
  const outDir = values.out ?? join(repoRoot, 'bench', 'results');
  return {
    mode: quick ? 'quick' : 'full',
    rounds: Math.round(num(values.rounds, quick ? 3 : 9, 1)),
    passes: Math.round(num(values.passes, quick ? 1 : 2, 1)),
    durationS: Math.round(num(values.duration, 1, 1)),
    pacedS: num(values['paced-s'], quick ? 2 : 3, 0.5),
    rate: num(values.rate, 1000, 1),
    connections: Math.round(num(values.connections, 64, 1)),
    pacedConnections: Math.round(num(values['paced-connections'], 32, 1)),
    warmupS: quick ? 2 : 4,
    nice: Math.round(num(values.nice, -5, -20)),
    outDir,
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: values['cpu-prof'] || join(outDir, 'profiles') } : {}),
    keepTemp: values['keep-temp'] === true,
    ...(values['ambit-cli'] !== undefined ? { ambitCli: values['ambit-cli'] } : {}),
    ...(values['baseline-cli'] !== undefined ? { baselineCli: values['baseline-cli'] } : {}),
  };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** One phase, measured as every benchmark measures (bench/harness/measure-phase.ts). */
const measure = <T>(sampler: ProcSampler, run: () => Promise<T>): Promise<Measured<T>> => measurePhase(sampler, run, settleMs);

interface PacedResult {
  readonly completed: number;
  readonly errors: number;
  readonly queued: number;
  readonly durationS: number;
  readonly achievedRps: number;
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
}

interface Bench {
  readonly o: Options;
  readonly group: ProcessGroup;
  readonly sampler: ProcSampler;
  readonly topology: WaypointTopology;
}

const wrkOptions = (b: Bench, p: BenchPath, durationS: number) =>
  ({ url: `http://127.0.0.1:${p.port}/`, threads: 1, connections: b.o.connections, durationS, latency: true, timeoutS: 5 });

async function rpsSample(b: Bench, p: BenchPath, passes: readonly Measured<WrkResult>[]): Promise<RpsSample> {
  const m = combineMeasured(passes, combineWrk);
  return {
    path: p.name,
    requests: m.result.requests,
    rps: m.result.requestsPerSec,
    p50Ms: m.result.percentilesMs?.p50 ?? NaN,
    p99Ms: m.result.percentilesMs?.p99 ?? NaN,
    errors: totalSocketErrors(m.result) + m.result.non2xx,
    cpuS: m.cpu.cpuS,
    backgroundCores: Math.max(...passes.map((x) => x.cpu.backgroundCores ?? 0)),
  };
}

async function pacedSample(b: Bench, p: BenchPath, label: string, pid: number): Promise<PacedSample> {
  const m = await measure(b.sampler, async () => {
    const r = await b.group.run('paced-client', process.execPath, [pacedClient, 'paced', '127.0.0.1', String(p.port), String(b.o.rate), String(b.o.pacedS), String(b.o.pacedConnections)], (b.o.pacedS + 30) * 1000);
    if (r.code !== 0 || r.timedOut) throw new Error(`paced client on ${p.name} failed (${r.timedOut ? 'timed out' : r.code}): ${r.stderr}`);
    const rss = readMemoryKb(pid)?.rssKb ?? NaN;
    return { paced: JSON.parse(r.stdout) as PacedResult, rssMb: rss / 1024 };
  });
  const r = m.result.paced;
  return {
    path: p.name, process: label, targetRps: b.o.rate, achievedRps: r.achievedRps, p50Ms: r.latencyMs.p50, p99Ms: r.latencyMs.p99,
    errors: r.errors, cpuS: m.cpu.cpuS[label] ?? NaN, wallS: r.durationS, rssMb: round3(m.result.rssMb), backgroundCores: m.cpu.backgroundCores ?? 0,
  };
}

async function runRound(b: Bench, round: number): Promise<WaypointRound> {
  const order = pathOrder(b.topology.paths, round, 0);
  const passes = new Map<string, Measured<WrkResult>[]>(order.map((p) => [p.name, []]));
  for (let pass = 0; pass < b.o.passes; pass++) {
    for (const p of pass % 2 === 0 ? order : [...order].reverse()) {
      passes.get(p.name)!.push(await measure(b.sampler, () => runWrk(b.group, wrkOptions(b, p, b.o.durationS))));
    }
  }
  const rps = await Promise.all(order.map((p) => rpsSample(b, p, passes.get(p.name)!)));
  // The fixed-rate phases: the waypoint(s) and nginx-l7, in an order that reverses every other round
  // (none for nginx-hop: the same nginx with the same settings as nginx-l7, so nginx-l7's phase gives its cost).
  const l7Proxy = new Map([
    [WaypointPath.Waypoint, b.topology.waypoint],
    [WaypointPath.NginxL7, b.topology.paths.find((p) => p.name === WaypointPath.NginxL7)!.proxies[0]!],
    ...(b.topology.waypointBase ? [[WaypointPath.WaypointBase, b.topology.waypointBase] as const] : []),
  ] as [string, { label: string; pid: number }][]);
  const pacedPaths = b.topology.paths.filter((p) => l7Proxy.has(p.name));
  const paced: PacedSample[] = [];
  for (const p of round % 2 === 0 ? pacedPaths : [...pacedPaths].reverse()) {
    const proc = l7Proxy.get(p.name)!;
    paced.push(await pacedSample(b, p, proc.label, proc.pid));
  }
  return { round: round + 1, order: order.map((p) => p.name), rps, paced };
}

function progress(r: WaypointRound): string {
  const f = (x: number, d: number): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const rps = r.rps.map((s) => `${s.path} ${f(s.rps, 0)}${s.errors ? ` (${s.errors} errors)` : ''}`).join('  ');
  const paced = r.paced.map((p) => `${p.path} ${f(p.achievedRps, 0)} rps ${f(p.cpuS / p.wallS, 3)} cores ${f(p.rssMb, 0)} MB`).join('  ');
  const bg = Math.max(...r.rps.map((s) => s.backgroundCores), ...r.paced.map((p) => p.backgroundCores));
  return `  round ${String(r.round).padStart(2)}  rps: ${rps}\n            paced: ${paced}${bg >= 0.1 ? `  [background ${f(bg, 2)} cores]` : ''}\n`;
}

async function runBench(o: Options, group: ProcessGroup, sampler: ProcSampler, workDir: string): Promise<void> {
  const out = (s: string): boolean => process.stdout.write(s);
  const nPaths = o.baselineCli ? 6 : 5;
  const nPaced = o.baselineCli ? 3 : 2;
  const estimateS = 5 + (nPaths - 1) * (o.warmupS + 0.2) + o.rounds * (nPaths * o.passes * (o.durationS + 0.2 + settleMs / 1000) + nPaced * (o.pacedS + 0.5));
  out(`ambit waypoint hop benchmark: ${o.mode}, ${o.rounds} rounds x ${o.passes} pass(es), ${o.durationS} s per wrk pass at ${o.connections} connections, `
    + `${o.pacedS} s at ${o.rate} rps on ${o.pacedConnections} connections per paced phase, ${bodyBytes}-byte responses, nice ${o.nice} (about ${Math.round(estimateS)} s)\n`);
  const busyBefore = await machineBusyFraction(1000);
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  out(`machine: ${os.availableParallelism()} x ${os.cpus()[0]?.model ?? '?'}, node ${process.version}; load average ${load}; ${Math.round(busyBefore * 100)} % busy before the run\n`);
  if (o.cpuProfDir) await mkdir(o.cpuProfDir, { recursive: true });
  const topology = await startWaypointTopology({
    workDir, group, sampler, subnet, bodyBytes,
    ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
    ...(o.ambitCli ? { ambitCli: o.ambitCli } : {}),
    ...(o.baselineCli ? { baselineCli: o.baselineCli } : {}),
  });
  sampler.start(100);
  const b: Bench = { o, group, sampler, topology };
  out(`warm-up: ${o.warmupS} s of wrk -c${o.connections} per proxied path\n`);
  for (const p of topology.paths) if (p.name !== WaypointPath.Direct) await runWrk(group, wrkOptions(b, p, o.warmupS));
  const startedAt = new Date();
  const rounds: WaypointRound[] = [];
  for (let r = 0; r < o.rounds; r++) {
    rounds.push(await runRound(b, r));
    out(progress(rounds.at(-1)!));
  }
  sampler.stop();
  const proxiesOf = Object.fromEntries(topology.paths.map((p) => [p.name, p.proxies.map((x) => x.label)]));
  const summary = buildWaypointSummary(rounds, topology.paths.map((p) => p.name), proxiesOf);
  const memory = sampler.memoryPeaks();
  const peaks = Object.entries(memory).map(([k, v]) => `${k} ${(v.peakRssKb / 1024).toFixed(1)}`).join(', ');
  out(`\n${formatWaypointReport(summary, rounds)}\npeak RSS over the whole run, MB: ${peaks}\n`);
  await mkdir(o.outDir, { recursive: true });
  const file = join(o.outDir, `waypoint-hop-${startedAt.toISOString().replace(/[:.]/g, '-')}-${o.mode}.json`);
  const settings = { ...o, settleMs, bodyBytes, request: 'GET / (no body), response 200 with a 1,024-byte body' };
  const machine = { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: load, busyBeforeRun: round3(busyBefore) };
  await writeFile(file, `${JSON.stringify({ benchmark: 'waypoint-hop', version: 2, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), commit: gitCommit(repoRoot), machine, settings, summary, memory, paths: topology.paths, rounds }, null, 2)}\n`);
  out(`\nresults: ${file}\n`);
  if (o.cpuProfDir) out(`cpu profiles (written when the waypoints exit): ${o.cpuProfDir}; summarize with node dist/bench/cpu-profile-summary.js ${o.cpuProfDir}/*.cpuprofile\n`);
}

const options = readOptions(process.argv.slice(2));
await runLoopbackBench({ tmpPrefix: 'ambit-waypoint-hop-', nice: options.nice, keepTemp: options.keepTemp }, (group, sampler, workDir) => runBench(options, group, sampler, workDir));
