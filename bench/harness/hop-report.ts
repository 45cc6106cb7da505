// What a hop benchmark run measured, reduced to per-round ratios and their median and spread,
// the pass/fail targets, and printed as tables. Each round measures one metric on every path back
// to back (seconds apart), so a ratio is taken between two measurements that saw the same
// machine; the median over rounds decides PASS/FAIL and the min-max shows how much to trust it.
import type { BulkResult } from './bulk-client.js';
import type { MemoryPeak } from './proc-sampler.js';
import type { HopPath, PathName } from './hop-topology.js';
import { totalSocketErrors, type WrkResult } from './wrk.js';
import { formatNumber as fmt, textTable as table } from './text-table.js';

export const Metrics = ['rps', 'cps', 'latency', 'bulk'] as const;
export type Metric = (typeof Metrics)[number];

export interface PhaseCpu {
  readonly wallS: number;
  /** CPU seconds per tracked process label during the phase. */
  readonly cpuS: Readonly<Record<string, number>>;
  /** CPU seconds of the load generator of the phase (wrk or the bulk client, all threads). */
  readonly loadGenS?: number;
  /** Cores used by kernel threads (ksoftirqd, kworkers: mostly loopback network work for the benchmark). */
  readonly kernelCores?: number;
  /** Cores used by processes that are not the benchmark's (others' work on the machine). */
  readonly backgroundCores?: number;
  /** Cores the hypervisor gave to other guests during the phase. */
  readonly stealCores?: number;
}

export interface Measured<T> {
  readonly result: T;
  readonly cpu: PhaseCpu;
}

export interface PathRound {
  readonly path: PathName;
  readonly rps?: Measured<WrkResult>;
  readonly cps?: Measured<WrkResult>;
  readonly latency?: Measured<WrkResult>;
  readonly bulk?: Measured<BulkResult>;
}

export interface RoundResult {
  readonly round: number;
  readonly paths: readonly PathRound[];
  /** The order the paths ran in, per metric. */
  readonly orders?: Readonly<Partial<Record<Metric, readonly PathName[]>>>;
  /** Metrics whose block was measured again because of background load (the last attempt is kept). */
  readonly remeasured?: readonly Metric[];
}

export interface PathSummary {
  readonly rps: number;
  readonly cps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly bulkGbps: number;
  /** wrk socket errors plus non-2xx responses, all phases and rounds. */
  readonly errors: number;
}

export interface ProxySummary {
  readonly label: string;
  readonly path: PathName;
  readonly peakRssMb: number;
  /** CPU seconds over every measured phase of every round. */
  readonly cpuSeconds: number;
  /** Medians over rounds. */
  readonly cpuUsPerRequest: number;
  readonly cpuUsPerConnection: number;
  readonly cpuSecondsPerGB: number;
}

/** One per-round quantity (a ratio or an added latency): every round's value, the median, the range. */
export interface Spread {
  readonly perRound: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  /** Rounds whose own value meets the threshold, of `rounds`. */
  readonly roundsPassing: number;
  readonly rounds: number;
  readonly unit: 'x' | 'ms';
  readonly op: '>=' | '<=';
  readonly threshold: number;
  /** Decided by the median. */
  readonly pass: boolean;
}

export interface HopRatios {
  readonly rps: Spread;
  readonly bulk: Spread;
  readonly cps: Spread;
  readonly addedP50AmbitMs: Spread;
  readonly addedP50NginxMs: Spread;
  readonly addedP99AmbitMs: Spread;
  readonly addedP99NginxMs: Spread;
}

/** The benchmarked Ambit build against a second one (`ambit-base`), when the run has it. */
export interface BaselineComparison {
  readonly rps: Spread;
  readonly cps: Spread;
  readonly bulk: Spread;
  /** p50 of ambit minus p50 of ambit-base, ms (negative: the build under test is faster). */
  readonly p50DeltaMs: Spread;
  /** The targets' ratios computed for ambit-base against nginx, same rounds. */
  readonly baseVsNginx: { readonly rps: Spread; readonly cps: Spread; readonly bulk: Spread; readonly addedP50Ms: Spread };
}

export interface LoadGeneratorCheck {
  /** Per path, the highest share of one core the load generator used in any rps/cps phase (wrk -t1 is one thread). */
  readonly wrkPeakCores: Readonly<Partial<Record<PathName, number>>>;
  /** Per path, the highest share of one core the bulk client used. */
  readonly bulkClientPeakCores: Readonly<Partial<Record<PathName, number>>>;
}

export interface BackgroundSummary {
  /** Over every measured phase: median and highest background cores, highest steal. */
  readonly medianCores: number;
  readonly maxCores: number;
  readonly maxStealCores: number;
  readonly remeasuredBlocks: number;
  /** Median background cores over the latency phases of the proxied paths (added p50 is absolute, not a ratio). */
  readonly latencyMedianCores: number;
}

export interface HopSummary {
  readonly paths: Readonly<Partial<Record<PathName, PathSummary>>>;
  readonly proxies: readonly ProxySummary[];
  /** nginx masters: they only supervise, listed to show they cost nothing. */
  readonly supervisors: readonly { readonly label: string; readonly peakRssMb: number; readonly cpuSeconds: number }[];
  readonly ratios: HopRatios;
  readonly targets: readonly TargetCheck[];
  /** Per path, the highest CPU use of the backend worker in any phase, in cores (1.0 = one core busy). */
  readonly backendPeakCores: Readonly<Partial<Record<PathName, number>>>;
  readonly loadGenerators: LoadGeneratorCheck;
  readonly background: BackgroundSummary;
  readonly baseline?: BaselineComparison;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function spread(perRound: readonly number[]): Spread {
  const finite = perRound.filter((x) => Number.isFinite(x));
  return {
    perRound,
    median: median(finite),
    min: finite.length ? Math.min(...finite) : NaN,
    max: finite.length ? Math.max(...finite) : NaN,
  };
}

function pathIn(r: RoundResult, name: PathName): PathRound | undefined {
  return r.paths.find((x) => x.path === name);
}

const p50 = (p: PathRound | undefined): number => p?.latency?.result.percentilesMs?.p50 ?? NaN;
const p99 = (p: PathRound | undefined): number => p?.latency?.result.percentilesMs?.p99 ?? NaN;
const rps = (p: PathRound | undefined): number => p?.rps?.result.requestsPerSec ?? NaN;
const cps = (p: PathRound | undefined): number => p?.cps?.result.requestsPerSec ?? NaN;
const gbps = (p: PathRound | undefined): number => p?.bulk?.result.gbps ?? NaN;
const wrkErrors = (m: Measured<WrkResult> | undefined): number => (m ? totalSocketErrors(m.result) + m.result.non2xx : 0);

function measuredOf(p: PathRound): Measured<unknown>[] {
  return [p.rps, p.cps, p.latency, p.bulk].filter((m): m is Measured<WrkResult> | Measured<BulkResult> => m !== undefined);
}

export function buildHopSummary(rounds: readonly RoundResult[], paths: readonly HopPath[], memory: Readonly<Record<string, MemoryPeak>>): HopSummary {
  const present = (name: PathName): PathRound[] => rounds.map((r) => pathIn(r, name)).filter((p): p is PathRound => p !== undefined);
  const summarize = (name: PathName): PathSummary => {
    const ps = present(name);
    return {
      rps: median(ps.map(rps)),
      cps: median(ps.map(cps)),
      p50Ms: median(ps.map(p50)),
      p99Ms: median(ps.map(p99)),
      bulkGbps: median(ps.map(gbps)),
      errors: ps.reduce((a, p) => a + wrkErrors(p.rps) + wrkErrors(p.cps) + wrkErrors(p.latency), 0),
    };
  };
  const perRound = (f: (r: RoundResult) => number): Spread => spread(rounds.map(f));
  const ratio = (a: PathName, b: PathName, f: (p: PathRound | undefined) => number): Spread => perRound((r) => f(pathIn(r, a)) / f(pathIn(r, b)));
  const diff = (a: PathName, b: PathName, f: (p: PathRound | undefined) => number): Spread => perRound((r) => f(pathIn(r, a)) - f(pathIn(r, b)));
  const ratios: HopRatios = {
    rps: ratio('ambit', 'nginx', rps),
    bulk: ratio('ambit', 'nginx', gbps),
    cps: ratio('ambit', 'nginx', cps),
    addedP50AmbitMs: diff('ambit', 'direct', p50),
    addedP50NginxMs: diff('nginx', 'direct', p50),
    addedP99AmbitMs: diff('ambit', 'direct', p99),
    addedP99NginxMs: diff('nginx', 'direct', p99),
  };
  const check = (name: string, s: Spread, unit: 'x' | 'ms', op: '>=' | '<=', threshold: number): TargetCheck => {
    const meets = (v: number): boolean => (op === '>=' ? v >= threshold : v <= threshold);
    const finite = s.perRound.filter((v) => Number.isFinite(v));
    return { name, value: s.median, min: s.min, max: s.max, roundsPassing: finite.filter(meets).length, rounds: finite.length, unit, op, threshold, pass: meets(s.median) };
  };
  const targets = [
    check('rps@64 Ambit / nginx', ratios.rps, 'x', '>=', 0.8),
    check('bulk Ambit / nginx', ratios.bulk, 'x', '>=', 0.5),
    check('cps Ambit / nginx', ratios.cps, 'x', '>=', 2),
    check('added p50 latency, Ambit', ratios.addedP50AmbitMs, 'ms', '<=', 0.2),
  ];

  const proxies: ProxySummary[] = [];
  for (const path of paths) {
    const ps = present(path.name);
    for (const proc of path.proxies) {
      const cpu = (m: Measured<unknown> | undefined): number => m?.cpu.cpuS[proc.label] ?? NaN;
      proxies.push({
        label: proc.label,
        path: path.name,
        peakRssMb: (memory[proc.label]?.peakRssKb ?? NaN) / 1024,
        cpuSeconds: ps.reduce((a, p) => a + measuredOf(p).reduce((b, m) => b + (m.cpu.cpuS[proc.label] ?? 0), 0), 0),
        cpuUsPerRequest: median(ps.map((p) => (p.rps ? (cpu(p.rps) / p.rps.result.requests) * 1e6 : NaN))),
        cpuUsPerConnection: median(ps.map((p) => (p.cps ? (cpu(p.cps) / p.cps.result.requests) * 1e6 : NaN))),
        cpuSecondsPerGB: median(ps.map((p) => (p.bulk ? cpu(p.bulk) / (p.bulk.result.bytes / 1e9) : NaN))),
      });
    }
  }
  const supervisors = paths.flatMap((path) => path.supervisors.map((proc) => ({
    label: proc.label,
    peakRssMb: (memory[proc.label]?.peakRssKb ?? NaN) / 1024,
    cpuSeconds: present(path.name).reduce((a, p) => a + measuredOf(p).reduce((b, m) => b + (m.cpu.cpuS[proc.label] ?? 0), 0), 0),
  })));
  const peak = (xs: readonly number[]): number => Math.max(0, ...xs.filter((x) => Number.isFinite(x)));
  const perPath = (f: (p: PathRound) => number[]): Partial<Record<PathName, number>> =>
    Object.fromEntries(paths.map((path) => [path.name, peak(present(path.name).flatMap(f))]));
  const cores = (m: Measured<unknown> | undefined, s: number | undefined): number => (m && s !== undefined ? s / m.cpu.wallS : NaN);
  const backendPeakCores = perPath((p) => measuredOf(p).map((m) => cores(m, m.cpu.cpuS['backend-worker'])));
  const loadGenerators: LoadGeneratorCheck = {
    wrkPeakCores: perPath((p) => [p.rps, p.cps].map((m) => cores(m, m?.cpu.loadGenS))),
    bulkClientPeakCores: perPath((p) => [cores(p.bulk, p.bulk?.cpu.loadGenS)]),
  };
  const phases = rounds.flatMap((r) => r.paths.flatMap(measuredOf));
  const bg = phases.map((m) => m.cpu.backgroundCores ?? NaN).filter((x) => Number.isFinite(x));
  const background: BackgroundSummary = {
    medianCores: median(bg),
    maxCores: bg.length ? Math.max(...bg) : NaN,
    maxStealCores: peak(phases.map((m) => m.cpu.stealCores ?? NaN)),
    remeasuredBlocks: rounds.reduce((a, r) => a + (r.remeasured?.length ?? 0), 0),
    latencyMedianCores: median(rounds.flatMap((r) => r.paths.filter((p) => p.path !== 'direct').map((p) => p.latency?.cpu.backgroundCores ?? NaN))),
  };
  const hasBase = rounds.some((r) => pathIn(r, 'ambit-base') !== undefined);
  const baseline: BaselineComparison | undefined = hasBase
    ? {
      rps: ratio('ambit', 'ambit-base', rps),
      cps: ratio('ambit', 'ambit-base', cps),
      bulk: ratio('ambit', 'ambit-base', gbps),
      p50DeltaMs: diff('ambit', 'ambit-base', p50),
      baseVsNginx: { rps: ratio('ambit-base', 'nginx', rps), cps: ratio('ambit-base', 'nginx', cps), bulk: ratio('ambit-base', 'nginx', gbps), addedP50Ms: diff('ambit-base', 'direct', p50) },
    }
    : undefined;
  return {
    paths: Object.fromEntries(paths.map((p) => [p.name, summarize(p.name)])),
    proxies,
    supervisors,
    ratios,
    targets,
    backendPeakCores,
    loadGenerators,
    background,
    ...(baseline ? { baseline } : {}),
  };
}

const pathOrder: readonly PathName[] = ['direct', 'ambit', 'nginx', 'ambit-base'];
/** Background load above which the added-p50 verdict is flagged as unreliable. */
const latencyNoiseCores = 0.25;
const pct = (x: number): string => `${fmt(x * 100, 0)} %`;

/** The human-readable report: results per path, proxy costs, every round's ratios, targets. */
export function formatHopReport(s: HopSummary, roundCount: number): string {
  const names = pathOrder.filter((n) => s.paths[n] !== undefined);
  const pathRows = names.map((name) => {
    const p = s.paths[name]!;
    return [name, fmt(p.rps, 0), fmt(p.cps, 0), fmt(p.p50Ms, 3), fmt(p.p99Ms, 3), fmt(p.bulkGbps, 2), String(p.errors)];
  });
  const pairs = names.filter((n) => n !== 'direct').map((path) => {
    const ps = s.proxies.filter((p) => p.path === path);
    const sum = (f: (p: ProxySummary) => number): number => ps.reduce((a, p) => a + f(p), 0);
    return [`${path} pair`, fmt(sum((p) => p.peakRssMb), 1), fmt(sum((p) => p.cpuSeconds), 1), fmt(sum((p) => p.cpuUsPerRequest), 1), fmt(sum((p) => p.cpuUsPerConnection), 0), fmt(sum((p) => p.cpuSecondsPerGB), 2)];
  });
  const proxyRows = s.proxies.map((p) => [p.label, fmt(p.peakRssMb, 1), fmt(p.cpuSeconds, 1), fmt(p.cpuUsPerRequest, 1), fmt(p.cpuUsPerConnection, 0), fmt(p.cpuSecondsPerGB, 2)]);
  const r = s.ratios;
  const roundRows = r.rps.perRound.map((_, i) => [String(i + 1), fmt(r.rps.perRound[i]!, 2), fmt(r.bulk.perRound[i]!, 2), fmt(r.cps.perRound[i]!, 2), fmt(r.addedP50AmbitMs.perRound[i]!, 3), fmt(r.addedP50NginxMs.perRound[i]!, 3)]);
  const range = (sp: { min: number; max: number }, d: number): string => `${fmt(sp.min, d)}-${fmt(sp.max, d)}`;
  const targetRows = s.targets.map((t) => {
    const d = t.unit === 'x' ? 2 : 3;
    return [t.name, `${fmt(t.value, d)} ${t.unit}`, `${range(t, d)} ${t.unit}`, `${t.roundsPassing}/${t.rounds}`, `${t.op} ${fmt(t.threshold, d)} ${t.unit}`, t.pass ? 'PASS' : 'FAIL'];
  });
  targetRows.push(['added p50 latency, nginx', `${fmt(r.addedP50NginxMs.median, 3)} ms`, `${range(r.addedP50NginxMs, 3)} ms`, '', '(baseline)', '']);
  targetRows.push(['added p99 latency, Ambit', `${fmt(r.addedP99AmbitMs.median, 3)} ms`, `${range(r.addedP99AmbitMs, 3)} ms`, '', '(info)', '']);
  targetRows.push(['added p99 latency, nginx', `${fmt(r.addedP99NginxMs.median, 3)} ms`, `${range(r.addedP99NginxMs, 3)} ms`, '', '(info)', '']);
  const lg = s.loadGenerators;
  const perPathPct = (m: Partial<Record<PathName, number>>): string => names.filter((n) => m[n] !== undefined).map((n) => `${n} ${pct(m[n]!)}`).join(', ');
  const lines = [
    table(['path', 'rps@64', 'cps@64', 'p50 ms', 'p99 ms', 'bulk Gbit/s', 'errors'], pathRows),
    `(medians of ${roundCount} round${roundCount === 1 ? '' : 's'}; direct's rps, cps and bulk are a load-generator headroom check)`,
    '',
    table(['proxy process', 'peak RSS MB', 'CPU s', 'CPU us/req', 'CPU us/conn', 'CPU s/GB'], [...proxyRows, ...pairs]),
    ...(s.supervisors.length ? [`(not in the pair rows: ${s.supervisors.map((x) => `${x.label} ${fmt(x.peakRssMb, 1)} MB, ${fmt(x.cpuSeconds, 2)} CPU s`).join('; ')})`] : []),
    '',
    table(['round', 'rps A/N', 'bulk A/N', 'cps A/N', '+p50 A ms', '+p50 N ms'], roundRows),
    '',
    table(['target (PASS/FAIL by the median of rounds)', 'median', 'min-max', 'rounds ok', 'target', 'result'], targetRows),
  ];
  if (s.baseline) {
    const b = s.baseline;
    lines.push('', table(['ambit vs ambit-base (same rounds)', 'median', 'min-max'], [
      ['rps@64 ambit / ambit-base', `${fmt(b.rps.median, 3)} x`, `${range(b.rps, 3)} x`],
      ['bulk ambit / ambit-base', `${fmt(b.bulk.median, 3)} x`, `${range(b.bulk, 3)} x`],
      ['cps ambit / ambit-base', `${fmt(b.cps.median, 3)} x`, `${range(b.cps, 3)} x`],
      ['p50 ambit - ambit-base', `${fmt(b.p50DeltaMs.median, 3)} ms`, `${range(b.p50DeltaMs, 3)} ms`],
      ['ambit-base: rps / bulk / cps vs nginx', `${fmt(b.baseVsNginx.rps.median, 2)} / ${fmt(b.baseVsNginx.bulk.median, 2)} / ${fmt(b.baseVsNginx.cps.median, 2)} x`, ''],
      ['ambit-base: added p50', `${fmt(b.baseVsNginx.addedP50Ms.median, 3)} ms`, `${range(b.baseVsNginx.addedP50Ms, 3)} ms`],
    ]));
  }
  lines.push(
    '',
    `load generators, busiest phase (one thread each; ~100 % would make them the limit): wrk ${perPathPct(lg.wrkPeakCores)}; bulk client ${perPathPct(lg.bulkClientPeakCores)}`,
    `backend nginx worker, busiest phase: ${perPathPct(s.backendPeakCores)} of one core`,
    `background load (CPU of processes not in the benchmark) per phase: median ${fmt(s.background.medianCores, 2)}, max ${fmt(s.background.maxCores, 2)} cores; `
      + `steal max ${fmt(s.background.maxStealCores, 2)} cores; ${s.background.remeasuredBlocks} block(s) re-measured`,
  );
  if (s.background.latencyMedianCores > latencyNoiseCores) {
    lines.push(`warning: other work took ${fmt(s.background.latencyMedianCores, 2)} cores (median) during the latency phases: the ratios hold up `
      + 'under such load, the absolute added p50 does not (it rose ~0.06 ms under a 1-core burner, bench/README.md); rerun on a quiet machine for that target');
  }
  return lines.join('\n');
}
