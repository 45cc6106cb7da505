// The summary of bench/waypoint-hop.ts: per-path medians over rounds, per-round ratios, the
// waypoint's CPU and RSS at a fixed 1,000 requests/s, and PASS/FAIL against issue 5's targets by the
// median of the rounds. Issue 5's rate target compares the waypoint with "nginx as an HTTP reverse
// proxy on the same hop": judged against nginx-hop (nginx in the waypoint's place between the two
// ztunnels); nginx-l7 (nginx alone, outside the mesh) stays as an informational row.
import { median, spread, type Spread } from './hop-report.js';
import { formatNumber as fmt, textTable as table } from './text-table.js';

/** One wrk pass at -c64 on one path (passes of a round folded: requests over time, latency request-weighted). */
export interface RpsSample {
  readonly path: string;
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** CPU seconds of every tracked process over the pass(es). */
  readonly cpuS: Readonly<Record<string, number>>;
  /** Cores of other work on the machine during the pass(es) (worst pass). */
  readonly backgroundCores: number;
}

/** One fixed-rate phase on one path, for the CPU and RSS of its L7 proxy. */
export interface PacedSample {
  readonly path: string;
  /** The process whose cost is reported (the waypoint, or nginx's worker). */
  readonly process: string;
  readonly targetRps: number;
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** CPU seconds of `process` over the phase and the phase's wall time. */
  readonly cpuS: number;
  readonly wallS: number;
  /** VmRSS of `process` at the end of the phase. */
  readonly rssMb: number;
  readonly backgroundCores: number;
}

export interface WaypointRound {
  readonly round: number;
  readonly order: readonly string[];
  readonly rps: readonly RpsSample[];
  readonly paced: readonly PacedSample[];
}

export interface PathRow {
  readonly path: string;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  /** Median over rounds of the path's proxies' CPU per request at -c64, by process. */
  readonly cpuUsPerReq: Readonly<Record<string, number>>;
}

export interface PacedRow {
  readonly path: string;
  readonly process: string;
  readonly achievedRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly vcpuPer1k: Spread;
  readonly rssMb: Spread;
}

export const TargetResult = { Pass: 'PASS', Fail: 'FAIL', Info: 'info' } as const;
export type TargetResult = (typeof TargetResult)[keyof typeof TargetResult];

export interface Target {
  readonly name: string;
  readonly value: Spread;
  readonly op: '>=' | '<=';
  readonly limit: number;
  readonly unit: string;
  readonly roundsOk: number;
  /** The median meets the limit (on an informational row too, where it decides nothing). */
  readonly pass: boolean;
  /** PASS/FAIL for a target of the issue; `info` for a reference row that is not judged. */
  readonly result: TargetResult;
}

export interface WaypointSummary {
  readonly paths: readonly PathRow[];
  readonly ratios: Readonly<Record<string, Spread>>;
  readonly paced: readonly PacedRow[];
  readonly targets: readonly Target[];
  readonly background: { readonly median: number; readonly max: number };
}

export const Targets = { rpsVsNginx: 0.35, vcpuPer1k: 0.5, rssMb: 120 } as const;

/** One letter per path for the per-round table's order column. */
export const PathLetter: Readonly<Record<string, string>> = {
  direct: 'D', ztunnels: 'Z', waypoint: 'W', 'nginx-l7': 'N', 'nginx-hop': 'H', 'waypoint-base': 'B',
};

/** vCPU per 1,000 requests/s: CPU seconds per second of the phase, scaled to 1,000 requests/s. */
export function vcpuPer1k(cpuS: number, wallS: number, achievedRps: number): number {
  if (!(wallS > 0) || !(achievedRps > 0)) return NaN;
  return (cpuS / wallS) / (achievedRps / 1000);
}

function target(name: string, perRound: readonly number[], op: '>=' | '<=', limit: number, unit: string, judged = true): Target {
  const value = spread(perRound);
  const ok = (x: number): boolean => (op === '>=' ? x >= limit : x <= limit);
  const pass = ok(value.median);
  const result = !judged ? TargetResult.Info : pass ? TargetResult.Pass : TargetResult.Fail;
  return { name, value, op, limit, unit, roundsOk: perRound.filter(ok).length, pass, result };
}

export function buildWaypointSummary(rounds: readonly WaypointRound[], pathNames: readonly string[], proxiesOf: Readonly<Record<string, readonly string[]>>): WaypointSummary {
  const sample = (r: WaypointRound, path: string): RpsSample | undefined => r.rps.find((s) => s.path === path);
  const perRound = (path: string, f: (s: RpsSample) => number): number[] => rounds.map((r) => sample(r, path)).filter((s): s is RpsSample => s !== undefined).map(f);
  const paths: PathRow[] = pathNames.map((path) => ({
    path,
    rps: median(perRound(path, (s) => s.rps)),
    p50Ms: median(perRound(path, (s) => s.p50Ms)),
    p99Ms: median(perRound(path, (s) => s.p99Ms)),
    errors: perRound(path, (s) => s.errors).reduce((a, b) => a + b, 0),
    cpuUsPerReq: Object.fromEntries((proxiesOf[path] ?? []).map((p) => [p, median(perRound(path, (s) => ((s.cpuS[p] ?? NaN) / s.requests) * 1e6))])),
  }));
  const ratio = (a: string, b: string): Spread => spread(rounds.map((r) => {
    const x = sample(r, a);
    const y = sample(r, b);
    return x && y && y.rps > 0 ? x.rps / y.rps : NaN;
  }));
  const ratios: Record<string, Spread> = {
    'waypoint / nginx-hop': ratio('waypoint', 'nginx-hop'),
    'waypoint / nginx-l7': ratio('waypoint', 'nginx-l7'),
    'waypoint / ztunnels': ratio('waypoint', 'ztunnels'),
    'nginx-hop / ztunnels': ratio('nginx-hop', 'ztunnels'),
    'ztunnels / direct': ratio('ztunnels', 'direct'),
    'nginx-l7 / direct': ratio('nginx-l7', 'direct'),
    ...(pathNames.includes('waypoint-base') ? { 'waypoint / waypoint-base (A/B)': ratio('waypoint', 'waypoint-base') } : {}),
  };
  const pacedPaths = [...new Set(rounds.flatMap((r) => r.paced.map((p) => p.path)))];
  const pacedOf = (path: string): PacedSample[] => rounds.flatMap((r) => r.paced.filter((p) => p.path === path));
  const paced: PacedRow[] = pacedPaths.map((path) => {
    const ps = pacedOf(path);
    return {
      path,
      process: ps[0]!.process,
      achievedRps: median(ps.map((p) => p.achievedRps)),
      p50Ms: median(ps.map((p) => p.p50Ms)),
      p99Ms: median(ps.map((p) => p.p99Ms)),
      vcpuPer1k: spread(ps.map((p) => vcpuPer1k(p.cpuS, p.wallS, p.achievedRps))),
      rssMb: spread(ps.map((p) => p.rssMb)),
    };
  });
  const wp = pacedOf('waypoint');
  const targets = [
    target('rps@64 waypoint / nginx-hop (nginx on the waypoint\'s hop)', ratios['waypoint / nginx-hop']!.perRound, '>=', Targets.rpsVsNginx, 'x'),
    target('rps@64 waypoint / nginx-l7 (reference: nginx alone, outside the mesh)', ratios['waypoint / nginx-l7']!.perRound, '>=', Targets.rpsVsNginx, 'x', false),
    target('waypoint vCPU per 1,000 rps', wp.map((p) => vcpuPer1k(p.cpuS, p.wallS, p.achievedRps)), '<=', Targets.vcpuPer1k, 'vCPU'),
    target('waypoint RSS at 1,000 rps', wp.map((p) => p.rssMb), '<=', Targets.rssMb, 'MB'),
  ];
  const bg = rounds.flatMap((r) => [...r.rps.map((s) => s.backgroundCores), ...r.paced.map((p) => p.backgroundCores)]);
  return { paths, ratios, paced, targets, background: { median: median(bg), max: bg.length ? Math.max(...bg) : NaN } };
}

export function formatWaypointReport(s: WaypointSummary, rounds: readonly WaypointRound[]): string {
  const cpu = (r: PathRow): string => Object.entries(r.cpuUsPerReq).map(([p, us]) => `${p} ${fmt(us, 0)}`).join(', ') || '-';
  const paths = table(['path', 'rps@64', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU us/req @64'],
    s.paths.map((r) => [r.path, fmt(r.rps, 0), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), String(r.errors), cpu(r)]));
  const ratios = table(['ratio (per round)', 'median', 'min-max'],
    Object.entries(s.ratios).map(([k, v]) => [k, `${fmt(v.median, 3)} x`, `${fmt(v.min, 2)}-${fmt(v.max, 2)} x`]));
  const paced = table(['paced 1,000 rps', 'process', 'achieved rps', 'p50 ms', 'p99 ms', 'vCPU per 1k rps', 'RSS MB'],
    s.paced.map((p) => [p.path, p.process, fmt(p.achievedRps, 0), fmt(p.p50Ms, 2), fmt(p.p99Ms, 2),
      `${fmt(p.vcpuPer1k.median, 3)} [${fmt(p.vcpuPer1k.min, 2)}-${fmt(p.vcpuPer1k.max, 2)}]`, `${fmt(p.rssMb.median, 1)} [${fmt(p.rssMb.min, 0)}-${fmt(p.rssMb.max, 0)}]`]));
  const perRound = table(['round', 'order', 'W/H', 'W/N', 'W rps', 'H rps', 'N rps', 'Z rps', 'D rps', 'B rps', 'W vCPU/1k', 'W RSS MB', 'bg cores'],
    rounds.map((r) => {
      const rps = (p: string): number => r.rps.find((x) => x.path === p)?.rps ?? NaN;
      const w = r.paced.find((p) => p.path === 'waypoint');
      const bg = Math.max(...r.rps.map((x) => x.backgroundCores), ...r.paced.map((x) => x.backgroundCores));
      return [String(r.round), r.order.map((p) => PathLetter[p] ?? '?').join(''), fmt(rps('waypoint') / rps('nginx-hop'), 2), fmt(rps('waypoint') / rps('nginx-l7'), 2),
        fmt(rps('waypoint'), 0), fmt(rps('nginx-hop'), 0), fmt(rps('nginx-l7'), 0), fmt(rps('ztunnels'), 0), fmt(rps('direct'), 0), fmt(rps('waypoint-base'), 0), w ? fmt(vcpuPer1k(w.cpuS, w.wallS, w.achievedRps), 3) : '-', w ? fmt(w.rssMb, 1) : '-', fmt(bg, 2)];
    }));
  const targets = table(['target (PASS/FAIL by the median of rounds)', 'median', 'min-max', 'rounds ok', 'target', 'result'],
    s.targets.map((t) => [t.name, `${fmt(t.value.median, 3)} ${t.unit}`, `${fmt(t.value.min, 2)}-${fmt(t.value.max, 2)}`, `${t.roundsOk}/${t.value.perRound.length}`, `${t.op} ${t.limit} ${t.unit}`, t.result]));
  return [paths, '(medians of rounds; p50/p99 from wrk --latency at 64 connections)', '', ratios, '', paced, '', perRound,
    `(order: ${Object.entries(PathLetter).map(([p, l]) => `${l} ${p}`).join(', ')})`, '', targets,
    `other work on the machine: median ${fmt(s.background.median, 2)} cores, max ${fmt(s.background.max, 2)} cores per phase`].join('\n');
}
