import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineBulk, combineCpu, combineWrk } from './combine.js';
import type { WrkResult } from './wrk.js';

function wrk(requests: number, durationS: number, p50: number, errors = 0): WrkResult {
  return {
    requests, durationS, requestsPerSec: requests / durationS, bytesRead: requests * 100, non2xx: 0, latencyMeanMs: p50,
    socketErrors: { connect: 0, read: errors, write: 0, timeout: 0 }, percentilesMs: { p50, p75: p50, p90: p50, p99: 2 * p50 },
  };
}

describe('combineWrk', () => {
  it('takes total requests over total time and request-weighted percentiles', () => {
    const r = combineWrk([wrk(3000, 1, 0.1, 1), wrk(1000, 1, 0.3, 2)]);
    assert.equal(r.requestsPerSec, 2000);
    assert.equal(r.requests, 4000);
    assert.equal(r.socketErrors.read, 3);
    assert.ok(Math.abs(r.percentilesMs!.p50 - 0.15) < 1e-12);
  });
  it('returns a single pass unchanged', () => {
    const one = wrk(10, 1, 0.1);
    assert.equal(combineWrk([one]), one);
  });
});

describe('combineBulk', () => {
  it('divides all bytes by all seconds', () => {
    const r = combineBulk([{ bytes: 1e9, seconds: 2, gbps: 4 }, { bytes: 1e9, seconds: 6, gbps: 4 / 3 }]);
    assert.equal(r.gbps, 2);
  });
});

describe('combineCpu', () => {
  it('adds CPU seconds and weights background by time', () => {
    const c = combineCpu([
      { wallS: 1, cpuS: { a: 0.5 }, loadGenS: 0.2, backgroundCores: 0.4, stealCores: 0 },
      { wallS: 3, cpuS: { a: 1, b: 1 }, loadGenS: 0.3, backgroundCores: 0, stealCores: 0.1 },
    ]);
    assert.deepEqual(c.cpuS, { a: 1.5, b: 1 });
    assert.equal(c.wallS, 4);
    assert.equal(c.loadGenS, 0.5);
    assert.equal(c.backgroundCores, 0.1);
    assert.equal(c.stealCores, 0.075);
  });
});
