// What a hop benchmark run measured, reduced to medians, per-round ratios and the pass/fail
// targets, and printed as a table. Ratios are taken inside each round (paths measured minutes
// apart drift together on a noisy machine) and the median of those is reported.
import type { BulkResult } from './bulk-client.js';
import type { MemoryPeak } from './proc-sampler.js';
import type { HopPath, PathName } from './hop-topology.js';
import { totalSocketErrors, type WrkResult } from './wrk.js';

export interface PhaseCpu {
  readonly wallS: number;
  /** CPU seconds per process label during the phase. */
  readonly cpuS: Readonly<Record<string, number>>;
}

export interface Measured<T> {
  readonly result: T;
  readonly cpu: PhaseCpu;
}

export interface PathRound {
  readonly path: PathName;
  readonly rps: Measured<WrkResult>;
  readonly cps: Measured<WrkResult>;
  readonly latency: Measured<WrkResult>;
  readonly bulk: Measured<BulkResult>;
}

export interface RoundResult {
  readonly round: number;
  readonly paths: readonly PathRound[];
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

export interface TargetCheck {
  readonly name: string;
  readonly value: number;
  readonly unit: 'x' | 'ms';
  readonly op: '>=' | '<=';
  readonly threshold: number;
  readonly pass: boolean;
}

export interface HopSummary {
  readonly paths: Readonly<Record<PathName, PathSummary>>;
  readonly proxies: readonly ProxySummary[];
  /** nginx masters: they only supervise, listed to show they cost nothing. */
  readonly supervisors: readonly { readonly label: string; readonly peakRssMb: number; readonly cpuSeconds: number }[];
  readonly ratios: { readonly rps: number; readonly bulk: number; readonly cps: number; readonly addedP50AmbitMs: number; readonly addedP50NginxMs: number; readonly addedP99AmbitMs: number; readonly addedP99NginxMs: number };
  readonly targets: readonly TargetCheck[];
  /** Per path, the highest CPU use of the backend worker in any phase, in cores (1.0 = one core busy). */
  readonly backendPeakCores: Readonly<Record<PathName, number>>;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function pathIn(r: RoundResult, name: PathName): PathRound {
  const p = r.paths.find((x) => x.path === name);
  if (!p) throw new Error(`round ${r.round} has no ${name} path`);
  return p;
}

const p50 = (p: PathRound): number => p.latency.result.percentilesMs?.p50 ?? NaN;
const p99 = (p: PathRound): number => p.latency.result.percentilesMs?.p99 ?? NaN;
const wrkErrors = (r: WrkResult): number => totalSocketErrors(r) + r.non2xx;

export function buildHopSummary(rounds: readonly RoundResult[], paths: readonly HopPath[], memory: Readonly<Record<string, MemoryPeak>>): HopSummary {
  const each = <T>(name: PathName, f: (p: PathRound) => T): T[] => rounds.map((r) => f(pathIn(r, name)));
  const summarize = (name: PathName): PathSummary => ({
    rps: median(each(name, (p) => p.rps.result.requestsPerSec)),
    cps: median(each(name, (p) => p.cps.result.requestsPerSec)),
    p50Ms: median(each(name, p50)),
    p99Ms: median(each(name, p99)),
    bulkGbps: median(each(name, (p) => p.bulk.result.gbps)),
    errors: each(name, (p) => wrkErrors(p.rps.result) + wrkErrors(p.cps.result) + wrkErrors(p.latency.result)).reduce((a, b) => a + b, 0),
  });
  const perRound = (f: (r: RoundResult) => number): number => median(rounds.map(f));
  const ratio = (f: (p: PathRound) => number) => perRound((r) => f(pathIn(r, 'ambit')) / f(pathIn(r, 'nginx')));
  const added = (name: PathName, f: (p: PathRound) => number) => perRound((r) => f(pathIn(r, name)) - f(pathIn(r, 'direct')));
  const ratios = {
    rps: ratio((p) => p.rps.result.requestsPerSec),
    bulk: ratio((p) => p.bulk.result.gbps),
    cps: ratio((p) => p.cps.result.requestsPerSec),
    addedP50AmbitMs: added('ambit', p50),
    addedP50NginxMs: added('nginx', p50),
    addedP99AmbitMs: added('ambit', p99),
    addedP99NginxMs: added('nginx', p99),
  };
  const check = (name: string, value: number, unit: 'x' | 'ms', op: '>=' | '<=', threshold: number): TargetCheck =>
    ({ name, value, unit, op, threshold, pass: op === '>=' ? value >= threshold : value <= threshold });
  const targets = [
    check('rps@64 Ambit / nginx', ratios.rps, 'x', '>=', 0.8),
    check('bulk Ambit / nginx', ratios.bulk, 'x', '>=', 0.5),
    check('cps Ambit / nginx', ratios.cps, 'x', '>=', 2),
    check('added p50 latency, Ambit', ratios.addedP50AmbitMs, 'ms', '<=', 0.2),
  ];

  const proxies: ProxySummary[] = [];
  for (const path of paths) {
    for (const proc of path.proxies) {
      const cpu = (m: Measured<unknown>): number => m.cpu.cpuS[proc.label] ?? NaN;
      proxies.push({
        label: proc.label,
        path: path.name,
        peakRssMb: (memory[proc.label]?.peakRssKb ?? NaN) / 1024,
        cpuSeconds: each(path.name, (p) => cpu(p.rps) + cpu(p.cps) + cpu(p.latency) + cpu(p.bulk)).reduce((a, b) => a + b, 0),
        cpuUsPerRequest: median(each(path.name, (p) => (cpu(p.rps) / p.rps.result.requests) * 1e6)),
        cpuUsPerConnection: median(each(path.name, (p) => (cpu(p.cps) / p.cps.result.requests) * 1e6)),
        cpuSecondsPerGB: median(each(path.name, (p) => cpu(p.bulk) / (p.bulk.result.bytes / 1e9))),
      });
    }
  }
  const supervisors = paths.flatMap((path) => path.supervisors.map((proc) => ({
    label: proc.label,
    peakRssMb: (memory[proc.label]?.peakRssKb ?? NaN) / 1024,
    cpuSeconds: each(path.name, (p) => [p.rps, p.cps, p.latency, p.bulk].reduce((a, m) => a + (m.cpu.cpuS[proc.label] ?? 0), 0)).reduce((a, b) => a + b, 0),
  })));
  const backendCores = (name: PathName): number =>
    Math.max(0, ...each(name, (p) => [p.rps, p.cps, p.latency, p.bulk].map((m) => (m.cpu.cpuS['backend-worker'] ?? 0) / m.cpu.wallS)).flat());
  return {
    paths: { direct: summarize('direct'), ambit: summarize('ambit'), nginx: summarize('nginx') },
    proxies,
    supervisors,
    ratios,
    targets,
    backendPeakCores: { direct: backendCores('direct'), ambit: backendCores('ambit'), nginx: backendCores('nginx') },
  };
}

function fmt(x: number, digits: number): string {
  if (!Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The human-readable report: results per path, proxy costs, targets. */
export function formatHopReport(s: HopSummary, roundCount: number): string {
  const pathRows = (['direct', 'ambit', 'nginx'] as const).map((name) => {
    const p = s.paths[name];
    return [name, fmt(p.rps, 0), fmt(p.cps, 0), fmt(p.p50Ms, 3), fmt(p.p99Ms, 3), fmt(p.bulkGbps, 2), String(p.errors)];
  });
  const pairs = (['ambit', 'nginx'] as const).map((path) => {
    const ps = s.proxies.filter((p) => p.path === path);
    const sum = (f: (p: ProxySummary) => number): number => ps.reduce((a, p) => a + f(p), 0);
    return [`${path} pair`, fmt(sum((p) => p.peakRssMb), 1), fmt(sum((p) => p.cpuSeconds), 1), fmt(sum((p) => p.cpuUsPerRequest), 1), fmt(sum((p) => p.cpuUsPerConnection), 0), fmt(sum((p) => p.cpuSecondsPerGB), 2)];
  });
  const proxyRows = s.proxies.map((p) => [p.label, fmt(p.peakRssMb, 1), fmt(p.cpuSeconds, 1), fmt(p.cpuUsPerRequest, 1), fmt(p.cpuUsPerConnection, 0), fmt(p.cpuSecondsPerGB, 2)]);
  const targetRows = s.targets.map((t) => [t.name, `${fmt(t.value, t.unit === 'x' ? 2 : 3)} ${t.unit}`, `${t.op} ${fmt(t.threshold, t.unit === 'x' ? 2 : 3)} ${t.unit}`, t.pass ? 'PASS' : 'FAIL']);
  targetRows.push(['added p50 latency, nginx', `${fmt(s.ratios.addedP50NginxMs, 3)} ms`, '(baseline)', '']);
  targetRows.push(['added p99 latency, Ambit / nginx', `${fmt(s.ratios.addedP99AmbitMs, 3)} / ${fmt(s.ratios.addedP99NginxMs, 3)} ms`, '(info)', '']);
  return [
    table(['path', 'rps@64', 'cps@64', 'p50 ms', 'p99 ms', 'bulk Gbit/s', 'errors'], pathRows),
    `(medians of ${roundCount} round${roundCount === 1 ? '' : 's'})`,
    '',
    table(['proxy process', 'peak RSS MB', 'CPU s', 'CPU us/req', 'CPU us/conn', 'CPU s/GB'], [...proxyRows, ...pairs]),
    ...(s.supervisors.length ? [`(not in the pair rows: ${s.supervisors.map((x) => `${x.label} ${fmt(x.peakRssMb, 1)} MB, ${fmt(x.cpuSeconds, 2)} CPU s`).join('; ')})`] : []),
    '',
    table(['target (median of per-round values)', 'value', 'target', 'result'], targetRows),
    '',
    `backend nginx worker, busiest phase: ${(['direct', 'ambit', 'nginx'] as const).map((n) => `${n} ${fmt(s.backendPeakCores[n] * 100, 0)} %`).join(', ')} of one core`,
  ].join('\n');
}
