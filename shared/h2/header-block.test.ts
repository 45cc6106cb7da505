import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameFlag, H2Code } from './frames.js';
import { HeaderBlockAssembler } from './header-block.js';

const block = Buffer.from('0123456789abcdef');

describe('HeaderBlockAssembler', () => {
  it('returns a block from one HEADERS with END_HEADERS, keeping its flags', () => {
    const a = new HeaderBlockAssembler(1000);
    const step = a.headers(FrameFlag.EndHeaders | FrameFlag.EndStream, 1, block);
    assert.deepEqual(step, { kind: 'block', streamId: 1, flags: FrameFlag.EndHeaders | FrameFlag.EndStream, block });
    assert.equal(a.inProgress, false);
  });

  it('strips padding and the priority fields, together or alone', () => {
    const a = new HeaderBlockAssembler(1000);
    const pad = (n: number): Buffer => Buffer.concat([Buffer.from([n]), block, Buffer.alloc(n)]);
    const prio = Buffer.concat([Buffer.from([0, 0, 0, 3, 200]), block]);
    const both = Buffer.concat([Buffer.from([4, 0, 0, 0, 3, 200]), block, Buffer.alloc(4)]);
    for (const [flags, payload] of [[FrameFlag.Padded, pad(7)], [FrameFlag.Padded, pad(0)], [FrameFlag.Priority, prio], [FrameFlag.Padded | FrameFlag.Priority, both]] as const) {
      const step = a.headers(flags | FrameFlag.EndHeaders, 3, payload);
      assert.equal(step.kind, 'block');
      if (step.kind === 'block') assert.equal(step.block.toString(), block.toString());
    }
  });

  it('rejects padding or priority fields longer than the frame, and HEADERS on stream 0', () => {
    const a = new HeaderBlockAssembler(1000);
    for (const [flags, payload, stream] of [
      [FrameFlag.Padded, Buffer.from([17, 1, 2]), 1],
      [FrameFlag.Padded, Buffer.alloc(0), 1],
      [FrameFlag.Priority, Buffer.from([0, 0, 0]), 1],
      [FrameFlag.Padded | FrameFlag.Priority, Buffer.from([1, 0, 0, 0, 0, 9]), 1],
      [0, block, 0],
    ] as const) {
      const step = a.headers(flags | FrameFlag.EndHeaders, stream, payload);
      assert.equal(step.kind, 'error', JSON.stringify([flags, [...payload], stream]));
      if (step.kind === 'error') assert.equal(step.code, H2Code.ProtocolError);
    }
  });

  it('joins HEADERS and CONTINUATION fragments, copying them (the payloads are reused)', () => {
    const a = new HeaderBlockAssembler(1000);
    const first = Buffer.from('first-');
    assert.deepEqual(a.headers(FrameFlag.EndStream, 5, first), { kind: 'pending' });
    first.fill(0);
    assert.equal(a.inProgress, true);
    const second = Buffer.from('second-');
    assert.deepEqual(a.continuation(0, 5, second), { kind: 'pending' });
    second.fill(0);
    const step = a.continuation(FrameFlag.EndHeaders, 5, Buffer.from('third'));
    assert.equal(step.kind, 'block');
    if (step.kind === 'block') {
      assert.equal(step.block.toString(), 'first-second-third');
      assert.equal(step.flags, FrameFlag.EndStream, "the HEADERS frame's flags (END_STREAM) carry over");
    }
    assert.equal(a.inProgress, false);
  });

  it('rejects CONTINUATION without a HEADERS before it, or on another stream', () => {
    const a = new HeaderBlockAssembler(1000);
    assert.equal(a.continuation(FrameFlag.EndHeaders, 1, block).kind, 'error');
    a.headers(0, 1, block);
    const step = a.continuation(FrameFlag.EndHeaders, 3, block);
    assert.equal(step.kind, 'error');
  });

  it('stops a CONTINUATION flood at the size bound with ENHANCE_YOUR_CALM', () => {
    const a = new HeaderBlockAssembler(100);
    a.headers(0, 1, Buffer.alloc(40));
    assert.equal(a.continuation(0, 1, Buffer.alloc(40)).kind, 'pending');
    const step = a.continuation(0, 1, Buffer.alloc(40));
    assert.deepEqual(step, { kind: 'error', code: H2Code.EnhanceYourCalm, reason: 'header block too large' });
  });
});
