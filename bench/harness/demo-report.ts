// The report of `npm run bench:demo` (bench/demo.ts): per step of the demo, the very lines
// `ambit demo` printed for its traffic (demo/traffic-lines.ts, same code, same figures), then what
// the bench adds: CPU and RSS of the mesh's processes and the other load on the machine. Pure.
import { trafficLines, formatMs } from '../../demo/traffic-lines.js';
import type { TrafficSummary } from '../../demo/traffic-stats.js';
import type { PhaseCpu } from './hop-report.js';
import { formatNumber, textTable } from './text-table.js';

/** The mesh's own processes, reported one by one; the sample apps are summed as `apps`. */
export const meshProcesses = ['ztunnel-node-1', 'ztunnel-node-2', 'waypoint', 'controlplane'] as const;

export interface DemoBenchStep {
  readonly scenario: string;
  readonly label: string;
  readonly from: string;
  readonly url: string;
  readonly rps: number;
  readonly seconds: number;
  /** What the sample client measured: the numbers `ambit demo` prints. */
  readonly summary: TrafficSummary;
  readonly verdict: { readonly ok: boolean; readonly text: string };
  /** CPU of every tracked process over the step's traffic, and the machine's other load. */
  readonly cpu: PhaseCpu;
  /** VmRSS at the end of the step, MB, per tracked process. */
  readonly rssMb: Readonly<Record<string, number>>;
}

/** CPU cores of `label` over the step ('apps': every sample app together). */
export function coresOf(s: DemoBenchStep, label: string): number {
  const cpuS = label === 'apps'
    ? Object.entries(s.cpu.cpuS).filter(([k]) => k.startsWith('app-')).reduce((a, [, v]) => a + v, 0)
    : (s.cpu.cpuS[label] ?? NaN);
  return s.cpu.wallS > 0 ? cpuS / s.cpu.wallS : NaN;
}

/** Microseconds of `label`'s CPU per request of the step. */
export function cpuUsPerRequest(s: DemoBenchStep, label: string): number {
  const cpuS = s.cpu.cpuS[label];
  return cpuS === undefined || s.summary.requests === 0 ? NaN : (cpuS * 1e6) / s.summary.requests;
}

const f = formatNumber;

/** One step: its header and verdict, the demo's traffic lines, then cpu, rss and machine lines. */
export function stepLines(s: DemoBenchStep): string[] {
  const cores = [...meshProcesses, 'apps'].map((p) => `${p} ${f(coresOf(s, p), 2)}`).join(', ');
  const rss = meshProcesses.map((p) => `${p} ${f(s.rssMb[p] ?? NaN, 0)}`).join(', ');
  return [
    `${s.scenario} / ${s.label}: GET ${s.url} at ${s.rps} req/s for ${s.seconds.toFixed(1)} s  [${s.verdict.ok ? 'ok' : 'FAIL'}]`,
    ...trafficLines(s.summary, s.from).map((l) => `  ${l}`),
    `  cpu     cores: ${cores}; waypoint ${f(cpuUsPerRequest(s, 'waypoint'), 0)} us/req`,
    `  rss     MB at the end: ${rss}`,
    `  machine other load ${f(s.cpu.backgroundCores ?? NaN, 2)} cores, kernel threads ${f(s.cpu.kernelCores ?? NaN, 2)}, steal ${f(s.cpu.stealCores ?? NaN, 2)}`,
  ];
}

/** Every step's lines, then one table row per step. */
export function formatDemoBenchReport(steps: readonly DemoBenchStep[]): string {
  const rows = steps.map((s) => [
    `${s.scenario} / ${s.label}`, f(s.summary.requestsPerS, 0), `${f(s.summary.successRate * 100, 1)}%`, formatMs(s.summary.p50Ms), formatMs(s.summary.p99Ms),
    f(coresOf(s, 'ztunnel-node-1'), 2), f(coresOf(s, 'ztunnel-node-2'), 2), f(coresOf(s, 'waypoint'), 2), f(cpuUsPerRequest(s, 'waypoint'), 0),
    f(s.rssMb['waypoint'] ?? NaN, 0), f(s.cpu.backgroundCores ?? NaN, 2), s.verdict.ok ? 'ok' : 'FAIL',
  ]);
  const table = textTable(['step', 'req/s', '2xx', 'p50', 'p99', 'zt-1 cores', 'zt-2 cores', 'wp cores', 'wp us/req', 'wp RSS MB', 'other load', 'verdict'], rows);
  return [...steps.flatMap((s) => [...stepLines(s), '']), table].join('\n');
}
