import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSuccessStatus, quantile, ratePerSecond, successRatio, summarizeLatencies } from './latency-stats.js';

describe('quantile', () => {
  it('takes the nearest rank: the smallest sample with at least q of the samples at or below it', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.9), 90);
    assert.equal(quantile(xs, 0.99), 99);
    assert.equal(quantile(xs, 0.991), 100);
    assert.equal(quantile(xs, 1), 100);
    assert.equal(quantile(xs, 0), 1);
  });

  it('rounds the rank up on lists whose length is not a multiple of 100', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7];
    assert.equal(quantile(xs, 0.5), 4); // ceil(3.5) = 4th
    assert.equal(quantile(xs, 0.99), 7); // ceil(6.93) = 7th
    assert.equal(quantile([7], 0.5), 7);
  });

  it('gives NaN for no samples or a NaN q, and clamps q outside 0..1', () => {
    assert.ok(Number.isNaN(quantile([], 0.5)));
    assert.ok(Number.isNaN(quantile([1, 2], NaN)));
    assert.equal(quantile([1, 2, 3], 2), 3);
    assert.equal(quantile([1, 2, 3], -1), 1);
  });
});

describe('summarizeLatencies', () => {
  it('sorts a copy and reports count, p50, p90, p99 and max', () => {
    // 1..200 in reverse order: nearest rank p50 = 100th, p90 = 180th, p99 = 198th.
    const samples = Array.from({ length: 200 }, (_, i) => 200 - i);
    const s = summarizeLatencies(samples);
    assert.deepEqual(s, { count: 200, p50Ms: 100, p90Ms: 180, p99Ms: 198, maxMs: 200 });
    assert.equal(samples[0], 200, 'the input is left as it was');
  });

  it('reports a single slow request as the p99 of 100 but not of 101', () => {
    const fast = Array.from({ length: 99 }, () => 2);
    assert.equal(summarizeLatencies([...fast, 500]).p99Ms, 2);
    assert.equal(summarizeLatencies([...fast, 500, 500]).p99Ms, 500);
  });

  it('summarizes no samples as count 0 with NaN latencies', () => {
    const s = summarizeLatencies([]);
    assert.equal(s.count, 0);
    assert.ok(Number.isNaN(s.p50Ms) && Number.isNaN(s.p99Ms) && Number.isNaN(s.maxMs));
  });
});

describe('rates and ratios', () => {
  it('divides a count by the elapsed seconds, and gives 0 when no time passed', () => {
    assert.equal(ratePerSecond(594, 6000), 99);
    assert.equal(ratePerSecond(3, 0), 0);
  });

  it('takes a share of the total, 0 of nothing', () => {
    assert.equal(successRatio(10, 12), 10 / 12);
    assert.equal(successRatio(0, 0), 0);
  });

  it('counts exactly the 2xx statuses as success', () => {
    assert.deepEqual([199, 200, 204, 299, 300, 403, 503].map(isSuccessStatus), [false, true, true, true, false, false, false]);
  });
});
