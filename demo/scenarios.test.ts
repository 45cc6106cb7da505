import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeAllStatus, judgeDelayed, judgeRefused, judgeShareStatus, judgeSplit, scenarios, shareTolerance } from './scenarios.js';
import { TrafficStats } from './traffic-stats.js';

const traffic = (entries: [outcome: { status: number; pod?: string } | { error: string }, count: number][]) => {
  const t = new TrafficStats();
  for (const [o, n] of entries) for (let i = 0; i < n; i++) t.record(o, 5);
  return t.summary(1000);
};

describe('demo scenario verdicts', () => {
  it('holds a 90/10 split measured within tolerance and rejects one measured 50/50', () => {
    assert.equal(judgeSplit(traffic([[{ status: 200, pod: 'echo-v1' }, 182], [{ status: 200, pod: 'echo-v2' }, 18]]), 0.1).ok, true);
    assert.equal(judgeSplit(traffic([[{ status: 200, pod: 'echo-v1' }, 100], [{ status: 200, pod: 'echo-v2' }, 100]]), 0.1).ok, false);
  });

  it('fails a split when any request failed, and when there was no traffic', () => {
    assert.equal(judgeSplit(traffic([[{ status: 200, pod: 'echo-v1' }, 90], [{ status: 200, pod: 'echo-v2' }, 9], [{ error: 'ECONNRESET' }, 1]]), 0.1).ok, false);
    assert.equal(judgeSplit(traffic([]), 0.1).ok, false);
  });

  it('widens the tolerance for few requests but never below 5 points', () => {
    assert.ok(shareTolerance(0.1, 20) > shareTolerance(0.1, 2000));
    assert.equal(shareTolerance(0.1, 1_000_000), 0.05);
  });

  it('counts a 403 as denied only if no backend answered it', () => {
    assert.equal(judgeAllStatus(traffic([[{ status: 403 }, 10]]), 403).ok, true);
    assert.equal(judgeAllStatus(traffic([[{ status: 403, pod: 'echo-v1' }, 10]]), 403).ok, false);
  });

  it('fails a timeout verdict when answers came slower than the limit', () => {
    const t = new TrafficStats();
    t.record({ status: 504 }, 2100);
    assert.equal(judgeAllStatus(t.summary(3000), 504, 1000).ok, false);
  });

  it('judges injected aborts by their share and refusals by every request failing', () => {
    assert.equal(judgeShareStatus(traffic([[{ status: 503 }, 52], [{ status: 200, pod: 'echo-v1' }, 48]]), 503, 0.5).ok, true);
    assert.equal(judgeShareStatus(traffic([[{ status: 503 }, 100]]), 503, 0.5).ok, false);
    assert.equal(judgeRefused(traffic([[{ error: 'ECONNRESET' }, 5]])).ok, true);
    assert.equal(judgeRefused(traffic([[{ error: 'ECONNRESET' }, 4], [{ status: 200, pod: 'echo-v1' }, 1]])).ok, false);
  });

  it('names the five scenarios the issue asks for, each with at least one step', () => {
    assert.deepEqual(scenarios.map((s) => s.name), ['canary', 'header-routing', 'denied', 'fault', 'strict']);
    for (const s of scenarios) assert.ok(s.steps.length > 0);
  });
});

describe('the delay verdict', () => {
  it('holds only when answers came no faster than the injected delay', () => {
    const slow = new TrafficStats();
    const fast = new TrafficStats();
    for (let i = 0; i < 10; i++) {
      slow.record({ status: 200, pod: 'echo-v1' }, 205);
      fast.record({ status: 200, pod: 'echo-v1' }, 5);
    }
    assert.equal(judgeDelayed(slow.summary(1000)).ok, true);
    assert.equal(judgeDelayed(fast.summary(1000)).ok, false);
  });
});
