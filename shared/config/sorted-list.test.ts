import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareCodeUnits, searchSorted, withChanges } from './sorted-list.js';

interface Item {
  readonly key: string;
  readonly v: number;
}

const keyOf = (i: Item): string => i.key;

/** The plain way: a map of everything, sorted. */
function reference(list: readonly Item[], upserts: readonly Item[], removals: readonly string[]): Item[] {
  const m = new Map(list.map((i) => [i.key, i]));
  for (const k of removals) m.delete(k);
  for (const i of upserts) m.set(i.key, i);
  return [...m.values()].sort((a, b) => compareCodeUnits(a.key, b.key));
}

describe('withChanges', () => {
  it('gives the sorted list with upserts and removals applied, for few and for many changes, leaving the input as it was', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 300; round++) {
      const size = Math.floor(random() * 300);
      const list = reference([], Array.from({ length: size }, (_, v) => ({ key: `k${Math.floor(random() * 500)}`, v })), []);
      const frozen = [...list];
      const changes = Math.floor(random() * (round % 2 ? 10 : 400));
      const upserts = new Map<string, Item>();
      const removals = new Set<string>();
      for (let c = 0; c < changes; c++) {
        const key = `k${Math.floor(random() * 500)}`;
        if (random() < 0.6) upserts.set(key, { key, v: -c });
        else if (!upserts.has(key)) removals.add(key);
      }
      // Changes come sorted from the compiler; any order must do.
      const ups = round % 3 === 0 ? [...upserts.values()].sort((a, b) => compareCodeUnits(a.key, b.key)) : [...upserts.values()];
      const got = withChanges(list, ups, [...removals], keyOf, compareCodeUnits);
      assert.deepEqual(got, reference(list, [...upserts.values()], [...removals]), `round ${round}`);
      assert.deepEqual(list, frozen);
    }
  });

  it('finds keys and insertion points', () => {
    const list = ['b', 'd', 'f'].map((key) => ({ key, v: 0 }));
    assert.equal(searchSorted(list, 'd', keyOf, compareCodeUnits), 1);
    assert.equal(searchSorted(list, 'a', keyOf, compareCodeUnits), -1);
    assert.equal(searchSorted(list, 'e', keyOf, compareCodeUnits), -3);
    assert.equal(searchSorted(list, 'z', keyOf, compareCodeUnits), -4);
  });
});
