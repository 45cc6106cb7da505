import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHopSummary, formatHopReport, median, spread, type PathRound, type RoundResult } from './hop-report.js';
import { pathOrder } from './schedule.js';
import type { HopPath, PathName } from './hop-topology.js';
import type { WrkResult } from './wrk.js';

function wrk(rps: number, p50Ms = 0.1): WrkResult {
  return {
    requests: rps * 5, durationS: 5, requestsPerSec: rps, bytesRead: 0, non2xx: 0, latencyMeanMs: p50Ms,
    socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, percentilesMs: { p50: p50Ms, p75: p50Ms, p90: p50Ms, p99: 2 * p50Ms },
  };
}

function pathRound(path: PathName, v: { rps: number; cps: number; p50Ms: number; gbps: number }, cpu: Record<string, number> = {}): PathRound {
  const m = <T>(result: T) => ({ result, cpu: { wallS: 5, cpuS: cpu } });
  return { path, rps: m(wrk(v.rps)), cps: m(wrk(v.cps)), latency: m(wrk(100, v.p50Ms)), bulk: m({ bytes: 1e9, seconds: 8 / v.gbps, gbps: v.gbps }) };
}

const paths: HopPath[] = [
  { name: 'direct', port: 1, proxies: [], supervisors: [] },
  { name: 'ambit', port: 2, proxies: [{ label: 'ambit-forward', pid: 10 }], supervisors: [] },
  { name: 'nginx', port: 3, proxies: [{ label: 'nginx-client-worker', pid: 20 }], supervisors: [] },
];

function round(n: number, ambitRps: number, nginxRps: number): RoundResult {
  return {
    round: n,
    paths: [
      pathRound('direct', { rps: 90_000, cps: 15_000, p50Ms: 0.03, gbps: 20 }, { 'backend-worker': 4 }),
      pathRound('ambit', { rps: ambitRps, cps: 2000, p50Ms: 0.18, gbps: 2.5 }, { 'ambit-forward': 5, 'backend-worker': 1 }),
      pathRound('nginx', { rps: nginxRps, cps: 900, p50Ms: 0.1, gbps: 4 }, { 'nginx-client-worker': 2.5, 'backend-worker': 1 }),
    ],
  };
}

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });
});

describe('buildHopSummary', () => {
  const rounds = [round(1, 20_000, 20_000), round(2, 10_000, 20_000), round(3, 18_000, 10_000)];
  const s = buildHopSummary(rounds, paths, { 'ambit-forward': { peakRssKb: 102_400, hwmKb: 102_400 } });

  it('reports the median of per-round ratios, not the ratio of medians, with the range', () => {
    // Per round: 1.0, 0.5, 1.8 -> 1.0. The ratio of medians would be 18,000 / 20,000 = 0.9.
    assert.equal(s.ratios.rps.median, 1);
    assert.deepEqual(s.ratios.rps.perRound, [1, 0.5, 1.8]);
    assert.equal(s.ratios.rps.min, 0.5);
    assert.equal(s.ratios.rps.max, 1.8);
    assert.equal(s.paths.ambit?.rps, 18_000);
  });

  it('decides by the median and counts the rounds that pass on their own', () => {
    const t = s.targets.find((x) => x.name === 'rps@64 Ambit / nginx')!;
    assert.equal(t.pass, true);
    assert.equal(t.roundsPassing, 2);
    assert.equal(t.rounds, 3);
  });

  it('checks each target with its threshold', () => {
    const byName = Object.fromEntries(s.targets.map((t) => [t.name, t]));
    assert.equal(byName['rps@64 Ambit / nginx']?.pass, true);
    assert.equal(byName['bulk Ambit / nginx']?.value, 0.625);
    assert.equal(byName['cps Ambit / nginx']?.pass, true); // 2000 / 900
    assert.ok(Math.abs(s.ratios.addedP50AmbitMs.median - 0.15) < 1e-9);
    assert.equal(byName['added p50 latency, Ambit']?.pass, true);
  });

  it('turns CPU seconds into per-request and per-GB costs', () => {
    const fwd = s.proxies.find((p) => p.label === 'ambit-forward')!;
    assert.equal(fwd.cpuUsPerRequest, (5 / (18_000 * 5)) * 1e6);
    assert.equal(fwd.cpuSecondsPerGB, 5);
    assert.equal(fwd.peakRssMb, 100);
    assert.equal(fwd.cpuSeconds, 3 * 4 * 5);
  });

  it('reports how busy the backend got on the proxied paths', () => {
    assert.equal(s.backendPeakCores.direct, 0.8);
    assert.equal(s.backendPeakCores.ambit, 0.2);
  });

  it('skips paths and phases a round did not measure', () => {
    const partial: RoundResult = { round: 4, paths: [{ path: 'direct', latency: round(4, 1, 1).paths[0]!.latency! }, ...round(4, 16_000, 20_000).paths.slice(1)] };
    const t = buildHopSummary([...rounds, partial], paths, {});
    assert.equal(t.paths.direct?.rps, 90_000);
    assert.equal(t.ratios.addedP50AmbitMs.perRound.length, 4);
    assert.equal(t.ratios.rps.median, 0.9);
  });

  it('reports background load and the load generators\' share of a core', () => {
    const m = (bg: number, loadGen: number) => ({ result: wrk(1000), cpu: { wallS: 2, cpuS: {}, loadGenS: loadGen, backgroundCores: bg, stealCores: 0 } });
    const r: RoundResult = { round: 1, remeasured: ['rps'], paths: [{ path: 'direct', rps: m(0.1, 1.5), latency: m(0.4, 0.2) }, { path: 'ambit', rps: m(0, 0.5) }, { path: 'nginx', rps: m(0, 0.6) }] };
    const t = buildHopSummary([r], paths, {});
    assert.equal(t.background.maxCores, 0.4);
    assert.equal(t.background.remeasuredBlocks, 1);
    assert.equal(t.loadGenerators.wrkPeakCores.direct, 0.75);
    assert.equal(t.loadGenerators.wrkPeakCores.nginx, 0.3);
    assert.ok(Number.isNaN(t.background.latencyMedianCores), 'no latency phase on a proxied path');
  });

  it('warns when the latency phases ran beside heavy background load', () => {
    const busy = rounds.map((r) => ({ ...r, paths: r.paths.map((p) => ({ ...p, latency: { ...p.latency!, cpu: { ...p.latency!.cpu, backgroundCores: 0.8 } } })) }));
    assert.match(formatHopReport(buildHopSummary(busy, paths, {}), 3), /warning: other work took 0\.80 cores/);
    assert.doesNotMatch(formatHopReport(s, 3), /warning/);
  });

  it('prints a table with every path and a verdict per target', () => {
    const text = formatHopReport(s, 3);
    for (const word of ['direct', 'ambit pair', 'nginx pair', 'PASS']) assert.ok(text.includes(word), word);
  });
});

describe('spread', () => {
  it('ignores rounds without a value', () => {
    assert.deepEqual({ ...spread([2, NaN, 1, 3]), perRound: [] }, { perRound: [], median: 2, min: 1, max: 3 });
  });
});

describe('pathOrder', () => {
  const paths = ['direct', 'ambit', 'nginx'];
  it('visits every order of three paths over six consecutive blocks', () => {
    const seen = new Set([0, 1, 2, 3, 4, 5].map((r) => pathOrder(paths, r, 0).join(' ')));
    assert.equal(seen.size, 6);
  });
  it('puts Ambit before nginx as often as after, per metric, over six rounds', () => {
    for (let metric = 0; metric < 4; metric++) {
      const first = [0, 1, 2, 3, 4, 5].filter((r) => { const o = pathOrder(paths, r, metric); return o.indexOf('ambit') < o.indexOf('nginx'); }).length;
      assert.equal(first, 3);
    }
  });
  it('changes the order from one metric to the next within a round', () => {
    assert.notDeepEqual(pathOrder(paths, 0, 0), pathOrder(paths, 0, 1));
  });
});
