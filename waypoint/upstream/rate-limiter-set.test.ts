import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { RateLimiterSet } from './rate-limiter-set.js';

const perSecond = (n: number) => ({ maxTokens: n, tokensPerFill: n, fillIntervalMs: 1000 });

describe('RateLimiterSet', () => {
  it('limits each rule with its own bucket and never limits an unknown rule', () => {
    const set = new RateLimiterSet(new ManualClock());
    assert.deepEqual(set.update([['a', perSecond(1)], ['b', perSecond(2)]]), []);
    assert.equal(set.take('a'), true);
    assert.equal(set.take('a'), false);
    assert.equal(set.take('b'), true);
    assert.equal(set.take('b'), true);
    assert.equal(set.take('b'), false);
    assert.equal(set.take('nope'), true);
  });

  it('keeps a drained bucket across an update that leaves its settings alone', () => {
    const set = new RateLimiterSet(new ManualClock());
    set.update([['a', perSecond(1)]]);
    const before = set.bucket('a');
    set.take('a');
    set.update([['a', perSecond(1)], ['c', perSecond(3)]]);
    assert.equal(set.bucket('a'), before);
    assert.equal(set.take('a'), false, 'the update did not refill it');
  });

  it('rebuilds a bucket whose settings changed and drops removed rules', () => {
    const set = new RateLimiterSet(new ManualClock());
    set.update([['a', perSecond(1)], ['b', perSecond(1)]]);
    set.take('a');
    set.update([['a', perSecond(2)]]);
    assert.equal(set.take('a'), true);
    assert.equal(set.take('a'), true);
    assert.equal(set.take('a'), false);
    assert.equal(set.bucket('b'), undefined);
    assert.equal(set.size, 1);
  });

  it('reports rules with invalid settings and builds no bucket for them', () => {
    const set = new RateLimiterSet(new ManualClock());
    const errors = set.update([['bad', { maxTokens: 0, tokensPerFill: 1, fillIntervalMs: 1000 }], ['ok', perSecond(1)]]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.id, 'bad');
    assert.equal(set.bucket('bad'), undefined);
    assert.ok(set.bucket('ok'));
  });
});
