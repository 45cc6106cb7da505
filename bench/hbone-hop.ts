// The HBONE hop benchmark: one backend reached three ways in one run (direct, through the Ambit
// forward/serve pair, through an nginx stream mTLS pair), measured in interleaved rounds so the
// machine's noise hits all three alike, and reported as Ambit/nginx ratios against targets.
// Usage: npm run bench [-- --quick] [--rounds N] [--duration S] [--bulk-mib N] [--cpu-prof DIR] [--ambit-cli PATH]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BulkResult } from './harness/bulk-client.js';
import { buildHopSummary, formatHopReport, type Measured, type PathRound, type RoundResult } from './harness/hop-report.js';
import { startHopTopology, type HopPath, type HopTopology } from './harness/hop-topology.js';
import { ProcessGroup } from './harness/process-group.js';
import { cpuDelta, machineBusyFraction, ProcSampler } from './harness/proc-sampler.js';
import { runWrk, totalSocketErrors, type WrkOptions } from './harness/wrk.js';

interface BenchOptions {
  readonly mode: 'full' | 'quick';
  readonly rounds: number;
  readonly durationS: number;
  /** Warm-up per path: keep-alive load, then new-connection load. */
  readonly warmupS: { readonly rps: number; readonly cps: number };
  readonly bulkMiB: number;
  readonly connections: number;
  readonly wrkThreads: number;
  readonly outDir: string;
  readonly cpuProfDir?: string;
  readonly keepTemp: boolean;
  readonly ambitCli?: string;
}

const settleMs = 300;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bulkClient = fileURLToPath(new URL('./harness/bulk-client.js', import.meta.url));

function readOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'bulk-mib': { type: 'string' },
      connections: { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'keep-temp': { type: 'boolean', default: false },
      'ambit-cli': { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const num = (v: string | undefined, dflt: number): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`invalid number ${JSON.stringify(v)}`);
    return n;
  };
  const outDir = values.out ?? join(repoRoot, 'bench', 'results');
  return {
    mode: quick ? 'quick' : 'full',
    rounds: num(values.rounds, quick ? 1 : 3),
    durationS: Math.max(1, Math.round(num(values.duration, quick ? 3 : 5))),
    // Node's new-connection path keeps getting faster for ~30 s of load (JIT, heap sizing); nginx
    // does not change. Every path gets the same warm-up; the full run gives it 10 s.
    warmupS: quick ? { rps: 1, cps: 2 } : { rps: 3, cps: 10 },
    bulkMiB: num(values['bulk-mib'], quick ? 256 : 1024),
    connections: num(values.connections, 64),
    wrkThreads: num(values.threads, 1),
    outDir,
    ...(values['cpu-prof'] !== undefined ? { cpuProfDir: values['cpu-prof'] || join(outDir, 'profiles') } : {}),
    keepTemp: values['keep-temp'] === true,
    ...(values['ambit-cli'] !== undefined ? { ambitCli: values['ambit-cli'] } : {}),
  };
}

function toolOutput(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} is required (${r.error.message})`);
  return `${r.stdout}${r.stderr}`;
}

function gitCommit(): string {
  const r = spawnSync('git', ['-C', repoRoot, 'describe', '--always', '--dirty'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function describeMachine(): Record<string, string | number> & { streamModule?: string } {
  const nginxV = toolOutput('nginx', ['-V']);
  const wrkV = toolOutput('wrk', ['-v']);
  const modulesPath = /--modules-path=(\S+)/.exec(nginxV)?.[1] ?? '/usr/lib/nginx/modules';
  const dynamicStream = /--with-stream=dynamic/.test(nginxV);
  const streamModule = join(modulesPath, 'ngx_stream_module.so');
  if (dynamicStream && !existsSync(streamModule)) throw new Error(`nginx's stream module is not installed (${streamModule}): apt-get install libnginx-mod-stream`);
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: `${process.version} (OpenSSL ${process.versions.openssl})`,
    nginx: `${/nginx\/(\S+)/.exec(nginxV)?.[1] ?? '?'} (${/built with (OpenSSL \S+)/.exec(nginxV)?.[1] ?? 'OpenSSL ?'}), worker_processes 1 per instance`,
    wrk: /wrk (\S+)/.exec(wrkV)?.[1] ?? '?',
    ...(dynamicStream ? { streamModule } : {}),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure<T>(sampler: ProcSampler, run: () => Promise<T>): Promise<Measured<T>> {
  const before = sampler.cpu();
  const t0 = performance.now();
  const result = await run();
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuDelta(before, sampler.cpu());
  await sleep(settleMs);
  return { result, cpu: { wallS, cpuS } };
}

interface Bench {
  readonly o: BenchOptions;
  readonly group: ProcessGroup;
  readonly sampler: ProcSampler;
  readonly topology: HopTopology;
}

function wrkPhase(b: Bench, path: HopPath, kind: 'rps' | 'cps' | 'latency', durationS: number): WrkOptions {
  const url = `http://127.0.0.1:${path.port}/`;
  const base = { url, threads: b.o.wrkThreads, durationS, timeoutS: 5 };
  if (kind === 'latency') return { ...base, threads: 1, connections: 1, latency: true };
  if (kind === 'cps') return { ...base, connections: b.o.connections, headers: ['Connection: close'] };
  return { ...base, connections: b.o.connections };
}

async function runBulk(b: Bench, path: HopPath): Promise<BulkResult> {
  const timeoutMs = Math.max(60_000, (b.topology.bulkBytes / 50e6) * 1000);
  const r = await b.group.run('bulk-client', process.execPath, [bulkClient, String(path.port), b.topology.bulkPath], timeoutMs);
  if (r.code !== 0 || r.timedOut) throw new Error(`bulk through ${path.name} failed (${r.timedOut ? 'timed out' : r.code}): ${r.stderr}`);
  const result = JSON.parse(r.stdout) as BulkResult;
  if (result.bytes !== b.topology.bulkBytes) throw new Error(`bulk through ${path.name}: ${result.bytes} of ${b.topology.bulkBytes} bytes`);
  return result;
}

async function measurePath(b: Bench, path: HopPath): Promise<PathRound> {
  const wrk = (kind: 'rps' | 'cps' | 'latency') => () => runWrk(b.group, wrkPhase(b, path, kind, b.o.durationS));
  const rps = await measure(b.sampler, wrk('rps'));
  const cps = await measure(b.sampler, wrk('cps'));
  const latency = await measure(b.sampler, wrk('latency'));
  const bulk = await measure(b.sampler, () => runBulk(b, path));
  return { path: path.name, rps, cps, latency, bulk };
}

function progressLine(round: number, p: PathRound): string {
  const errors = totalSocketErrors(p.rps.result) + totalSocketErrors(p.cps.result) + totalSocketErrors(p.latency.result) + p.rps.result.non2xx + p.cps.result.non2xx;
  const f = (x: number, d: number): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  return `  round ${round} ${p.path.padEnd(6)} rps ${f(p.rps.result.requestsPerSec, 0).padStart(7)}  cps ${f(p.cps.result.requestsPerSec, 0).padStart(6)}`
    + `  p50 ${f(p.latency.result.percentilesMs?.p50 ?? NaN, 3)} ms  bulk ${f(p.bulk.result.gbps, 2)} Gbit/s${errors ? `  errors ${errors}` : ''}\n`;
}

async function runBench(o: BenchOptions, group: ProcessGroup, sampler: ProcSampler, workDir: string): Promise<void> {
  const out = (s: string): boolean => process.stdout.write(s);
  const machine = describeMachine();
  // Rough: 3 wrk phases, settling, and a bulk transfer at ~2 Gbit/s, per path and round, plus warm-up.
  const bulkS = o.bulkMiB / 250;
  const estimateS = 3 * (o.rounds * (3 * o.durationS + 1.2 + bulkS) + o.warmupS.rps + o.warmupS.cps + 1 + bulkS) + 5;
  out(`ambit hbone hop benchmark: ${o.mode}, ${o.rounds} round(s) x 3 paths, ${o.durationS} s per wrk phase, ${o.connections} connections, `
    + `bulk ${o.bulkMiB} MiB on 1 connection (about ${Math.round(estimateS)} s)\n`);
  out(`machine: ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}; node ${machine.node}; nginx ${machine.nginx}; wrk ${machine.wrk}\n`);
  // Other work on the machine skews every path; say so rather than hide it.
  const busyBefore = await machineBusyFraction(1000);
  machine.busyBeforeRun = Math.round(busyBefore * 100) / 100;
  if (busyBefore > 0.15) out(`warning: the machine was ${Math.round(busyBefore * 100)} % busy before the run started (other processes); expect noise\n`);
  if (o.cpuProfDir) await mkdir(o.cpuProfDir, { recursive: true });
  const topology = await startHopTopology({
    workDir, group, sampler, bulkBytes: o.bulkMiB * 2 ** 20,
    ...(machine.streamModule ? { streamModule: machine.streamModule } : {}),
    ...(o.cpuProfDir ? { cpuProfDir: o.cpuProfDir } : {}),
    ...(o.ambitCli ? { ambitCli: o.ambitCli } : {}),
  });
  sampler.start(100);
  const b: Bench = { o, group, sampler, topology };
  out(`warm-up per path: ${o.warmupS.rps} s keep-alive, ${o.warmupS.cps} s new connections, one bulk transfer\n`);
  for (const path of topology.paths) {
    await runWrk(group, wrkPhase(b, path, 'rps', o.warmupS.rps));
    await runWrk(group, wrkPhase(b, path, 'cps', o.warmupS.cps));
    await runBulk(b, path); // also fills the page cache with bulk.bin before anything is timed
  }
  const rounds: RoundResult[] = [];
  const startedAt = new Date();
  for (let r = 0; r < o.rounds; r++) {
    // Rotate the order each round so no path always runs first (or after the same neighbour).
    const order = topology.paths.map((_, i) => topology.paths[(i + r) % topology.paths.length]!);
    const results: PathRound[] = [];
    for (const path of order) {
      const pr = await measurePath(b, path);
      results.push(pr);
      out(progressLine(r + 1, pr));
    }
    rounds.push({ round: r + 1, paths: results });
  }
  sampler.stop();
  const memory = sampler.memoryPeaks();
  const summary = buildHopSummary(rounds, topology.paths, memory);
  out(`\n${formatHopReport(summary, rounds.length)}\n`);
  await mkdir(o.outDir, { recursive: true });
  const file = join(o.outDir, `hbone-hop-${startedAt.toISOString().replace(/[:.]/g, '-')}-${o.mode}.json`);
  const settings = { ...o, wrkPhases: { rps: 'wrk keep-alive', cps: "wrk -H 'Connection: close' (one new TCP connection per request)", latency: 'wrk -t1 -c1 --latency' }, bulk: 'one GET of a sparse file from the nginx backend, one connection, Node client' };
  await writeFile(file, `${JSON.stringify({ benchmark: 'hbone-hop', version: 1, startedAt: startedAt.toISOString(), commit: gitCommit(), machine, settings, summary, memory, processes: topology.paths, backend: topology.backend, rounds }, null, 2)}\n`);
  out(`\nresults: ${file}\n`);
  if (o.cpuProfDir) out(`cpu profiles (written when forward/serve exit): ${o.cpuProfDir}\n`);
}

async function main(): Promise<void> {
  const o = readOptions(process.argv.slice(2));
  const workDir = await mkdtemp(join(os.tmpdir(), 'ambit-hop-'));
  await mkdir(join(workDir, 'logs'));
  const group = new ProcessGroup(join(workDir, 'logs'));
  const sampler = new ProcSampler();
  let failed = false;
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (stopping ??= (async () => {
    sampler.stop();
    await group.stop(8000);
    const left = group.running();
    if (left.length > 0) process.stderr.write(`still running after stop: ${left.join(', ')}\n`);
    if (failed || o.keepTemp) process.stderr.write(`work directory kept: ${workDir} (logs in ${join(workDir, 'logs')})\n`);
    else await rm(workDir, { recursive: true, force: true });
  })());
  process.on('exit', () => group.killAllNow());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping every process this benchmark started\n`);
      interrupted = true;
      void shutdown().finally(() => process.exit(130));
    });
  }
  try {
    await runBench(o, group, sampler, workDir);
  } catch (err) {
    if (!interrupted) {
      failed = true;
      process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  } finally {
    await shutdown();
  }
}

await main();
