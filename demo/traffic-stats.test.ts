import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ratePerSecond, successRatio, summarizeLatencies } from '../bench/harness/latency-stats.js';
import { countOf, meshAnswered, noAnswer, shareOf, TrafficStats } from './traffic-stats.js';

describe('TrafficStats', () => {
  it('splits requests by answering pod, with the mesh and failures as their own edges', () => {
    const t = new TrafficStats();
    for (let i = 0; i < 9; i++) t.record({ status: 200, pod: 'echo-v1' }, 10 + i);
    t.record({ status: 200, pod: 'echo-v2' }, 40);
    t.record({ status: 403 }, 2);
    t.record({ error: 'ECONNRESET' }, 1);
    const s = t.summary(1000);
    assert.equal(s.requests, 12);
    assert.equal(s.requestsPerS, 12);
    assert.deepEqual(s.statuses, { 200: 10, 403: 1 });
    assert.deepEqual(s.errors, { ECONNRESET: 1 });
    assert.equal(s.successRate, 10 / 12);
    assert.equal(s.edges['echo-v1']?.p50Ms, 14);
    assert.equal(s.edges[meshAnswered]?.statuses['403'], 1);
    assert.equal(s.edges[noAnswer]?.successRate, 0);
    assert.equal(shareOf(s, 'echo-v2'), 1 / 12);
    assert.equal(countOf(s, 403), 1);
    assert.equal(countOf(s, 'error'), 1);
  });

  it('reports exactly the figures of the benchmarks\' statistics (bench/harness/latency-stats.ts) for the same samples', () => {
    // 300 requests: latencies 1..300 ms shuffled deterministically, every 7th one answered 503.
    const latencies = Array.from({ length: 300 }, (_, i) => ((i * 113) % 300) + 1);
    const t = new TrafficStats();
    let ok = 0;
    latencies.forEach((ms, i) => {
      const status = i % 7 === 0 ? 503 : 200;
      if (status === 200) ok++;
      t.record({ status, pod: 'echo-v1' }, ms);
    });
    const s = t.summary(2500);
    const bench = summarizeLatencies(latencies);
    assert.deepEqual({ p50: s.p50Ms, p90: s.p90Ms, p99: s.p99Ms, max: s.maxMs }, { p50: bench.p50Ms, p90: bench.p90Ms, p99: bench.p99Ms, max: bench.maxMs });
    // Nearest rank over 1..300: the 150th, 270th, 297th and 300th smallest.
    assert.deepEqual({ p50: s.p50Ms, p90: s.p90Ms, p99: s.p99Ms, max: s.maxMs }, { p50: 150, p90: 270, p99: 297, max: 300 });
    assert.equal(s.requestsPerS, ratePerSecond(300, 2500));
    assert.equal(s.requestsPerS, 120);
    assert.equal(s.successRate, successRatio(ok, 300));
    assert.equal(ok, 257);
    assert.deepEqual(s.edges['echo-v1'], { requests: 300, statuses: { 200: 257, 503: 43 }, errors: {}, successRate: 257 / 300, p50Ms: 150, p90Ms: 270, p99Ms: 297, maxMs: 300 });
  });

  it('summarizes no traffic as zero requests, zero success and no latency (NaN, not 0 ms)', () => {
    const s = new TrafficStats().summary(0);
    assert.equal(s.requests, 0);
    assert.equal(s.successRate, 0);
    assert.equal(s.requestsPerS, 0);
    assert.ok(Number.isNaN(s.p50Ms));
    assert.equal(shareOf(s, 'echo-v1'), 0);
  });
});
