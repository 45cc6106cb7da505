import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { TokenBucket, tokenBucketSettingsError } from './token-bucket.js';

function drain(bucket: TokenBucket): number {
  let n = 0;
  while (bucket.take()) n++;
  return n;
}

describe('TokenBucket', () => {
  it('starts full and lets exactly maxTokens requests through before limiting', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 5, tokensPerFill: 1, fillIntervalMs: 1000 }, clock);
    assert.equal(drain(bucket), 5);
    assert.equal(bucket.take(), false);
  });

  it('adds tokensPerFill only at whole fill intervals', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 1000 }, clock);
    drain(bucket);
    clock.advance(999);
    assert.equal(bucket.take(), false);
    clock.advance(1);
    assert.equal(drain(bucket), 2);
    clock.advance(2500);
    assert.equal(drain(bucket), 4, 'two whole intervals passed');
    assert.equal(bucket.msUntilNextFill(), 500, 'the half interval left over still counts toward the next fill');
  });

  it('never holds more than maxTokens however long it idles', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ maxTokens: 3, tokensPerFill: 1, fillIntervalMs: 100 }, clock);
    bucket.take();
    clock.advance(60_000);
    assert.equal(bucket.remaining(), 3);
  });

  it('neither mints tokens nor wedges when the clock steps back', () => {
    let now = 1_000_000;
    const clock = { nowMs: () => now, setTimer: () => ({ cancel: () => undefined }) };
    const bucket = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillIntervalMs: 100 }, clock);
    drain(bucket);
    now = 500_000;
    assert.equal(bucket.take(), false);
    now = 500_100;
    assert.equal(bucket.take(), true, 'fills resume from the stepped-back time');
  });
});

describe('tokenBucketSettingsError', () => {
  it('accepts valid settings and names the bad field otherwise', () => {
    assert.equal(tokenBucketSettingsError({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 50 }), undefined);
    assert.match(tokenBucketSettingsError({ maxTokens: 0, tokensPerFill: 1, fillIntervalMs: 1000 }) ?? '', /maxTokens/);
    assert.match(tokenBucketSettingsError({ maxTokens: 1, tokensPerFill: 1.5, fillIntervalMs: 1000 }) ?? '', /tokensPerFill/);
    assert.match(tokenBucketSettingsError({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 10 }) ?? '', /fillIntervalMs/);
    assert.match(tokenBucketSettingsError({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: Number.NaN }) ?? '', /fillIntervalMs/);
  });
});
