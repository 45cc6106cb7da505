import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeldData } from './held-data.js';
import { randomIndex, seededRandom } from '../seeded-random.js';

describe('HeldData', () => {
  it('gives back exactly the bytes pushed, in order, for any mix of piece sizes (seeded)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const held = new HeldData();
      const pushed: Buffer[] = [];
      for (let i = randomIndex(random, 60); i >= 0; i--) {
        const n = [1, 3, 100, 1023, 4095, 4096, 9000, 20_000][randomIndex(random, 8)]!;
        const piece = Buffer.alloc(n, randomIndex(random, 256));
        pushed.push(Buffer.from(piece));
        held.push(piece);
        piece.fill(0xee); // the caller's buffer is reused: small pieces must have been copied
      }
      const total = pushed.reduce((n, b) => n + b.length, 0);
      assert.equal(held.bytes, total);
      const out = Buffer.concat(held.take());
      const want = Buffer.concat(pushed);
      // Large pieces are kept as views (no copy), so only compare where the caller did not reuse them.
      let at = 0;
      for (const p of pushed) {
        if (p.length < 4096) assert.ok(out.subarray(at, at + p.length).equals(p), `seed ${seed}: small piece at ${at}`);
        at += p.length;
      }
      assert.equal(out.length, want.length);
    }
  });

  it('keeps 10,000 one-byte pieces in a handful of buffers', () => {
    const held = new HeldData();
    for (let i = 0; i < 10_000; i++) held.push(Buffer.from([i & 0xff]));
    const chunks = held.take();
    assert.ok(chunks.length <= 10, `${chunks.length} buffers`);
    const out = Buffer.concat(chunks);
    assert.equal(out.length, 10_000);
    for (let i = 0; i < 10_000; i++) assert.equal(out[i], i & 0xff);
  });

  it('keeps a large piece as the same memory, without copying it', () => {
    const held = new HeldData();
    const big = Buffer.alloc(8192, 1);
    held.push(Buffer.from('ab'));
    held.push(big);
    held.push(Buffer.from('cd'));
    const chunks = held.take();
    assert.deepEqual(chunks.map((c) => c.length), [2, 8192, 2]);
    assert.equal(chunks[1]!.buffer, big.buffer);
  });
});
