import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomIndex, seededRandom } from './seeded-random.js';

describe('seededRandom', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const sa = Array.from({ length: 20 }, a);
    assert.deepEqual(Array.from({ length: 20 }, b), sa);
    assert.notDeepEqual(Array.from({ length: 20 }, c), sa);
  });

  it('stays in [0, 1) and spreads evenly over ten buckets (chi-square below the 0.1 % critical value)', () => {
    const random = seededRandom(7);
    const buckets = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = random();
      assert.ok(x >= 0 && x < 1, `out of range: ${x}`);
      buckets[Math.floor(x * 10)]! += 1;
    }
    const expected = n / 10;
    const chi2 = buckets.reduce((s, o) => s + (o - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(chi2 > 27.88) = 0.001.
    assert.ok(chi2 < 27.88, `chi-square ${chi2.toFixed(2)} for ${buckets.join(',')}`);
  });
});

describe('randomIndex', () => {
  it('draws every index of [0, n) and never n, even from a source that returns 1', () => {
    const random = seededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(randomIndex(random, 5));
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
    assert.equal(randomIndex(() => 1, 5), 4);
    assert.equal(randomIndex(random, 0), 0);
  });
});
