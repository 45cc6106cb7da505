import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLocalRateLimit } from './rate-limit-annotation.js';

describe('parseLocalRateLimit', () => {
  it('reads a rate per second with the bucket holding one second of tokens', () => {
    assert.deepEqual(parseLocalRateLimit('100/s'), { bucket: { tokensPerFill: 100, fillIntervalMs: 1000, maxTokens: 100 } });
  });
  it('reads minutes, hours and an explicit burst, tolerating spaces', () => {
    assert.deepEqual(parseLocalRateLimit('60/m'), { bucket: { tokensPerFill: 60, fillIntervalMs: 60_000, maxTokens: 60 } });
    assert.deepEqual(parseLocalRateLimit(' 100 / s ; burst = 200 '), { bucket: { tokensPerFill: 100, fillIntervalMs: 1000, maxTokens: 200 } });
    assert.deepEqual(parseLocalRateLimit('5000/h; burst=10'), { bucket: { tokensPerFill: 5000, fillIntervalMs: 3_600_000, maxTokens: 10 } });
  });
  for (const bad of ['', '100', '100/d', '100/sec', '-1/s', '1.5/s', '0/s', '10/s; burst=0', '10/s; burst=', '10/s burst=5', '10/s; rate=5', '2000000000/s']) {
    it(`refuses ${JSON.stringify(bad)} with a reason`, () => {
      const r = parseLocalRateLimit(bad);
      assert.ok('error' in r, JSON.stringify(r));
      assert.match(r.error, /rate limit|must be/);
    });
  }
});
