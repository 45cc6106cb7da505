import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWaypointSummary, formatWaypointReport, TargetResult, vcpuPer1k, type PacedSample, type RpsSample, type WaypointRound } from './waypoint-report.js';

const rps = (path: string, r: number, cpuS: Record<string, number> = {}): RpsSample =>
  ({ path, requests: r, rps: r, p50Ms: 1, p99Ms: 2, errors: 0, cpuS, backgroundCores: 0.05 });
const paced = (cpuS: number, achievedRps: number, rssMb: number): PacedSample =>
  ({ path: 'waypoint', process: 'waypoint', targetRps: 1000, achievedRps, p50Ms: 1, p99Ms: 3, errors: 0, cpuS, wallS: 2, rssMb, backgroundCores: 0.1 });
/** A round where the waypoint makes `w` rps, nginx on its hop `hop`, nginx alone `l7`. */
const round = (n: number, w: number, hop: number, p: PacedSample, l7 = 20_000): WaypointRound => ({
  round: n, order: ['direct', 'ztunnels', 'waypoint', 'nginx-l7', 'nginx-hop'],
  rps: [rps('direct', 40_000), rps('ztunnels', 10_000), rps('waypoint', w, { waypoint: w * 100e-6 }), rps('nginx-l7', l7),
    rps('nginx-hop', hop, { 'nginx-hop-worker': hop * 30e-6 })],
  paced: [p],
});
const pathNames = ['direct', 'ztunnels', 'waypoint', 'nginx-l7', 'nginx-hop'];
const proxies = { direct: [], ztunnels: [], waypoint: ['waypoint'], 'nginx-l7': [], 'nginx-hop': ['nginx-hop-worker'] };
const rateTarget = (s: ReturnType<typeof buildWaypointSummary>, vs: string) => s.targets.find((x) => x.name.startsWith(`rps@64 waypoint / ${vs} `))!;

describe('waypoint benchmark summary', () => {
  it('scales the CPU of a paced phase to vCPU per 1,000 requests/s of the rate achieved', () => {
    assert.equal(vcpuPer1k(0.6, 2, 1000), 0.3);
    assert.equal(vcpuPer1k(0.6, 2, 500), 0.6);
    assert.ok(Number.isNaN(vcpuPer1k(1, 2, 0)));
  });

  it('takes the waypoint / nginx-hop ratio inside each round and judges its median against 0.35', () => {
    const rounds = [round(1, 3000, 10_000, paced(0.6, 1000, 100)), round(2, 5000, 10_000, paced(0.6, 1000, 100)), round(3, 4000, 8000, paced(0.6, 1000, 100))];
    const s = buildWaypointSummary(rounds, pathNames, proxies);
    assert.deepEqual(s.ratios['waypoint / nginx-hop']!.perRound, [0.3, 0.5, 0.5]);
    const t = rateTarget(s, 'nginx-hop');
    assert.equal(t.value.median, 0.5);
    assert.equal(t.roundsOk, 2);
    assert.equal(t.result, TargetResult.Pass);
    assert.equal(s.paths.find((p) => p.path === 'waypoint')!.cpuUsPerReq['waypoint'], 100);
    assert.ok(Math.abs(s.paths.find((p) => p.path === 'nginx-hop')!.cpuUsPerReq['nginx-hop-worker']! - 30) < 1e-9);
  });

  it('fails the rate target when the waypoint makes under 35 % of nginx-hop, whatever nginx alone makes', () => {
    const rounds = [round(1, 3000, 10_000, paced(0.6, 1000, 100), 5000), round(2, 3000, 12_000, paced(0.6, 1000, 100), 5000)];
    const s = buildWaypointSummary(rounds, pathNames, proxies);
    assert.equal(rateTarget(s, 'nginx-hop').result, TargetResult.Fail);
    assert.equal(rateTarget(s, 'nginx-l7').value.median, 0.6);
    assert.match(formatWaypointReport(s, rounds), /rps@64 waypoint \/ nginx-hop \(nginx on the waypoint's hop\) .* FAIL/);
  });

  it('keeps waypoint / nginx-l7 as an informational row, neither PASS nor FAIL', () => {
    const rounds = [round(1, 3000, 6000, paced(0.6, 1000, 100), 30_000), round(2, 3000, 6000, paced(0.6, 1000, 100), 30_000)];
    const s = buildWaypointSummary(rounds, pathNames, proxies);
    const ref = rateTarget(s, 'nginx-l7');
    assert.equal(ref.value.median, 0.1);
    assert.equal(ref.pass, false);
    assert.equal(ref.result, TargetResult.Info);
    assert.equal(rateTarget(s, 'nginx-hop').result, TargetResult.Pass);
    const report = formatWaypointReport(s, rounds);
    assert.match(report, /rps@64 waypoint \/ nginx-l7 \(reference: nginx alone, outside the mesh\) .* info\s*$/m);
    assert.doesNotMatch(report, /nginx-l7 \(reference.*(PASS|FAIL)/);
  });

  it('reports what the mesh costs nginx: nginx-hop / ztunnels per round', () => {
    const rounds = [round(1, 3000, 6000, paced(0.6, 1000, 100)), round(2, 3000, 8000, paced(0.6, 1000, 100))];
    const s = buildWaypointSummary(rounds, pathNames, proxies);
    assert.deepEqual(s.ratios['nginx-hop / ztunnels']!.perRound, [0.6, 0.8]);
    assert.equal(s.ratios['nginx-hop / ztunnels']!.median, 0.7);
    assert.match(formatWaypointReport(s, rounds), /nginx-hop \/ ztunnels +0\.700 x +0\.60-0\.80 x/);
  });

  it('writes nginx-hop as H in the per-round order and its legend', () => {
    const rounds = [round(1, 3000, 6000, paced(0.6, 1000, 100))];
    const report = formatWaypointReport(buildWaypointSummary(rounds, pathNames, proxies), rounds);
    assert.match(report, /^ *1 +DZWNH +0\.50 +0\.15 /m);
    assert.match(report, /H nginx-hop/);
  });

  it('adds the A/B ratio against a baseline waypoint when that path was measured', () => {
    const withBase = (n: number, w: number, b: number): WaypointRound => {
      const r = round(n, w, 10_000, paced(0.6, 1000, 100));
      return { ...r, rps: [...r.rps, rps('waypoint-base', b)] };
    };
    const s = buildWaypointSummary([withBase(1, 3000, 2000), withBase(2, 3000, 3000)], [...pathNames, 'waypoint-base'], proxies);
    assert.deepEqual(s.ratios['waypoint / waypoint-base (A/B)']!.perRound, [1.5, 1]);
    const without = buildWaypointSummary([round(1, 3000, 10_000, paced(0.6, 1000, 100))], pathNames, proxies);
    assert.equal(without.ratios['waypoint / waypoint-base (A/B)'], undefined);
  });

  it('fails the CPU and RSS targets when the waypoint needs more than 0.5 vCPU or 120 MB at 1,000 rps', () => {
    const rounds = [round(1, 3000, 10_000, paced(1.2, 1000, 130)), round(2, 3000, 10_000, paced(1.4, 1000, 125)), round(3, 3000, 10_000, paced(0.8, 1000, 110))];
    const s = buildWaypointSummary(rounds, pathNames, proxies);
    const cpu = s.targets.find((x) => x.name.includes('vCPU'))!;
    const rss = s.targets.find((x) => x.name.includes('RSS'))!;
    assert.equal(cpu.value.median, 0.6);
    assert.equal(cpu.pass, false);
    assert.equal(cpu.roundsOk, 1);
    assert.equal(rss.value.median, 125);
    assert.equal(rss.pass, false);
    assert.match(formatWaypointReport(s, rounds), /waypoint vCPU per 1,000 rps .* FAIL/);
  });
});
