import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWaypointSummary, formatWaypointReport, vcpuPer1k, type PacedSample, type RpsSample, type WaypointRound } from './waypoint-report.js';

const rps = (path: string, r: number, cpuS: Record<string, number> = {}): RpsSample =>
  ({ path, requests: r, rps: r, p50Ms: 1, p99Ms: 2, errors: 0, cpuS, backgroundCores: 0.05 });
const paced = (cpuS: number, achievedRps: number, rssMb: number): PacedSample =>
  ({ path: 'waypoint', process: 'waypoint', targetRps: 1000, achievedRps, p50Ms: 1, p99Ms: 3, errors: 0, cpuS, wallS: 2, rssMb, backgroundCores: 0.1 });
const round = (n: number, w: number, nginx: number, p: PacedSample): WaypointRound => ({
  round: n, order: ['direct', 'ztunnels', 'waypoint', 'nginx-l7'],
  rps: [rps('direct', 40_000), rps('ztunnels', 10_000), rps('waypoint', w, { waypoint: w * 100e-6 }), rps('nginx-l7', nginx)],
  paced: [p],
});
const proxies = { direct: [], ztunnels: [], waypoint: ['waypoint'], 'nginx-l7': [] };

describe('waypoint benchmark summary', () => {
  it('scales the CPU of a paced phase to vCPU per 1,000 requests/s of the rate achieved', () => {
    assert.equal(vcpuPer1k(0.6, 2, 1000), 0.3);
    assert.equal(vcpuPer1k(0.6, 2, 500), 0.6);
    assert.ok(Number.isNaN(vcpuPer1k(1, 2, 0)));
  });

  it('takes the waypoint / nginx ratio inside each round and judges its median against 0.35', () => {
    const rounds = [round(1, 3000, 10_000, paced(0.6, 1000, 100)), round(2, 5000, 10_000, paced(0.6, 1000, 100)), round(3, 4000, 8000, paced(0.6, 1000, 100))];
    const s = buildWaypointSummary(rounds, ['direct', 'ztunnels', 'waypoint', 'nginx-l7'], proxies);
    assert.deepEqual(s.ratios['waypoint / nginx-l7']!.perRound, [0.3, 0.5, 0.5]);
    const t = s.targets.find((x) => x.name.startsWith('rps@64'))!;
    assert.equal(t.value.median, 0.5);
    assert.equal(t.roundsOk, 2);
    assert.equal(t.pass, true);
    assert.equal(s.paths.find((p) => p.path === 'waypoint')!.cpuUsPerReq['waypoint'], 100);
  });

  it('adds the A/B ratio against a baseline waypoint when that path was measured', () => {
    const withBase = (n: number, w: number, b: number): WaypointRound => {
      const r = round(n, w, 10_000, paced(0.6, 1000, 100));
      return { ...r, rps: [...r.rps, rps('waypoint-base', b)] };
    };
    const s = buildWaypointSummary([withBase(1, 3000, 2000), withBase(2, 3000, 3000)], ['direct', 'ztunnels', 'waypoint', 'nginx-l7', 'waypoint-base'], proxies);
    assert.deepEqual(s.ratios['waypoint / waypoint-base (A/B)']!.perRound, [1.5, 1]);
    const without = buildWaypointSummary([round(1, 3000, 10_000, paced(0.6, 1000, 100))], ['direct', 'ztunnels', 'waypoint', 'nginx-l7'], proxies);
    assert.equal(without.ratios['waypoint / waypoint-base (A/B)'], undefined);
  });

  it('fails the CPU and RSS targets when the waypoint needs more than 0.5 vCPU or 120 MB at 1,000 rps', () => {
    const rounds = [round(1, 3000, 10_000, paced(1.2, 1000, 130)), round(2, 3000, 10_000, paced(1.4, 1000, 125)), round(3, 3000, 10_000, paced(0.8, 1000, 110))];
    const s = buildWaypointSummary(rounds, ['direct', 'ztunnels', 'waypoint', 'nginx-l7'], proxies);
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
