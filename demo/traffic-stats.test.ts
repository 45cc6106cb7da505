import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countOf, meshAnswered, noAnswer, quantile, shareOf, TrafficStats } from './traffic-stats.js';

describe('TrafficStats', () => {
  it('takes quantiles by nearest rank, and 0 of nothing', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(quantile(xs, 0.5), 50);
    assert.equal(quantile(xs, 0.99), 99);
    assert.equal(quantile([7], 0.99), 7);
    assert.equal(quantile([], 0.5), 0);
  });

  it('splits requests by answering pod, with the mesh and failures as their own edges', () => {
    const t = new TrafficStats();
    for (let i = 0; i < 9; i++) t.record({ status: 200, pod: 'echo-v1' }, 10 + i);
    t.record({ status: 200, pod: 'echo-v2' }, 40);
    t.record({ status: 403 }, 2);
    t.record({ error: 'ECONNRESET' }, 1);
    const s = t.summary(1000);
    assert.equal(s.requests, 12);
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

  it('summarizes no traffic as zero requests and zero success, not NaN', () => {
    const s = new TrafficStats().summary(0);
    assert.equal(s.requests, 0);
    assert.equal(s.successRate, 0);
    assert.equal(shareOf(s, 'echo-v1'), 0);
  });
});
