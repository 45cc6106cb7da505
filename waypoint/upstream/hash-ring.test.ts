import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HashRing, hash32 } from './hash-ring.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `Kubernetes//Pod/default/backend-${i}`);
const keys = Array.from({ length: 20_000 }, (_, i) => hash32(`user-${i}`));

function owners(ring: HashRing): (string | undefined)[] {
  return keys.map((k) => ring.lookup(k));
}

describe('hash32', () => {
  it('is stable and spreads similar strings apart', () => {
    assert.equal(hash32('abc'), hash32('abc'));
    assert.notEqual(hash32('user-1'), hash32('user-2'));
    const top = new Set(keys.slice(0, 1000).map((h) => h >>> 28));
    assert.equal(top.size, 16, 'the top 4 bits take every value');
  });
});

describe('HashRing', () => {
  it('sends the same key to the same host, whatever order the hosts came in', () => {
    const a = HashRing.build(hosts(10));
    const b = HashRing.build([...hosts(10)].reverse());
    assert.deepEqual(owners(a), owners(b));
    assert.equal(a.lookup(keys[0]!), a.lookup(keys[0]!));
  });

  it('spreads keys roughly evenly: every one of 10 hosts gets 5 % to 15 %', () => {
    const counts = new Map<string, number>();
    for (const o of owners(HashRing.build(hosts(10)))) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    assert.equal(counts.size, 10);
    for (const [host, c] of counts) assert.ok(c / keys.length > 0.05 && c / keys.length < 0.15, `${host}: ${c}`);
  });

  it('moves only the removed host\'s keys (about 1/N of them) when a host goes away', () => {
    const all = hosts(10);
    const before = owners(HashRing.build(all));
    const gone = all[3]!;
    const after = owners(HashRing.build(all.filter((h) => h !== gone)));
    let moved = 0;
    before.forEach((o, i) => {
      if (o !== gone) assert.equal(after[i], o, 'a key of a remaining host stayed');
      else moved++;
    });
    assert.ok(moved / keys.length > 0.05 && moved / keys.length < 0.15, `moved ${moved}`);
  });

  it('moves only keys onto the new host (about 1/(N+1)) when a host is added', () => {
    const before = owners(HashRing.build(hosts(10)));
    const after = owners(HashRing.build(hosts(11)));
    const added = hosts(11)[10];
    let moved = 0;
    before.forEach((o, i) => {
      if (after[i] !== o) {
        assert.equal(after[i], added);
        moved++;
      }
    });
    assert.ok(moved / keys.length > 0.04 && moved / keys.length < 0.14, `moved ${moved}`);
  });

  it('answers undefined for an empty ring and the only host for a ring of one', () => {
    assert.equal(HashRing.build([]).lookup(5), undefined);
    assert.equal(HashRing.build(['solo']).lookup(0xffffffff), 'solo');
  });
});
