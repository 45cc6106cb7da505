import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, randomIndex } from '../seeded-random.js';
import type { HeaderField } from './hpack-decoder.js';
import { HpackDynamicTable } from './hpack-dynamic-table.js';

/** A plain-array model of RFC 7541 §4: newest first, evict from the end. */
class ModelTable {
  entries: HeaderField[] = [];
  maxBytes: number;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
  size(): number {
    return this.entries.reduce((n, [a, b]) => n + a.length + b.length + 32, 0);
  }
  add(f: HeaderField): void {
    this.entries.unshift(f);
    while (this.size() > this.maxBytes) this.entries.pop();
  }
  setMaxBytes(n: number): void {
    this.maxBytes = n;
    while (this.size() > n) this.entries.pop();
  }
}

function contents(t: HpackDynamicTable): HeaderField[] {
  const out: HeaderField[] = [];
  for (let i = 0; i < t.length; i++) out.push(t.get(i)!);
  return out;
}

describe('HpackDynamicTable', () => {
  it('indexes the newest entry first and returns undefined past the end', () => {
    const t = new HpackDynamicTable(4096);
    t.add(['a', '1']);
    t.add(['b', '2']);
    assert.deepEqual(contents(t), [['b', '2'], ['a', '1']]);
    assert.equal(t.get(2), undefined);
    assert.equal(t.sizeBytes, 68);
  });

  it('evicts the oldest entries to make room (RFC 7541 §4.4)', () => {
    const t = new HpackDynamicTable(100);
    t.add(['a', '1']); // 34
    t.add(['b', '2']); // 68
    t.add(['c', '3']); // 102 > 100: evicts a
    assert.deepEqual(contents(t), [['c', '3'], ['b', '2']]);
    assert.equal(t.sizeBytes, 68);
  });

  it('empties itself for an entry larger than the maximum size', () => {
    const t = new HpackDynamicTable(100);
    t.add(['a', '1']);
    t.add(['big', 'x'.repeat(70)]);
    assert.equal(t.length, 0);
    assert.equal(t.sizeBytes, 0);
  });

  it('evicts down to a smaller maximum size and can grow again (RFC 7541 §4.3)', () => {
    const t = new HpackDynamicTable(4096);
    for (let i = 0; i < 5; i++) t.add([`k${i}`, 'v']);
    t.setMaxBytes(70);
    assert.deepEqual(contents(t), [['k4', 'v'], ['k3', 'v']]);
    t.setMaxBytes(0);
    assert.equal(t.length, 0);
    t.setMaxBytes(4096);
    t.add(['z', 'z']);
    assert.deepEqual(contents(t), [['z', 'z']]);
  });

  it('matches a plain-array model through 5,000 random adds and resizes across ring wrap-around and growth', () => {
    const random = seededRandom(4242);
    const t = new HpackDynamicTable(1024);
    const model = new ModelTable(1024);
    for (let n = 0; n < 5000; n++) {
      if (randomIndex(random, 50) === 0) {
        const size = [0, 64, 300, 1024, 4096, 8000][randomIndex(random, 6)]!;
        t.setMaxBytes(size);
        model.setMaxBytes(size);
      } else {
        const f: HeaderField = [`n${randomIndex(random, 100)}`, 'v'.repeat(randomIndex(random, randomIndex(random, 20) === 0 ? 600 : 20))];
        t.add(f);
        model.add(f);
      }
      assert.equal(t.sizeBytes, model.size());
      assert.equal(t.length, model.entries.length);
    }
    assert.deepEqual(contents(t), model.entries);
  });
});
