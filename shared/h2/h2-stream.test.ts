import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { H2Code } from './frames.js';
import { H2Stream, type H2StreamOwner } from './h2-stream.js';

/** A session stand-in that records what the stream asks of it and sends nothing. */
class FakeOwner implements H2StreamOwner {
  destroyed = false;
  held = 0;
  consumedBytes = 0;
  resets: number[] = [];
  closedStreams = 0;
  flushStream(stream: H2Stream): void {
    // Everything fits: the queue is sent at once.
    stream.queue = undefined;
    stream.queuedBytes = 0;
    if (stream.endQueued && !stream.writableFinished) stream.finished();
    else stream.drained();
  }
  consumed(_stream: H2Stream, bytes: number): void {
    this.consumedBytes += bytes;
  }
  sendReset(_stream: H2Stream, code: number): void {
    this.resets.push(code);
  }
  streamClosed(): void {
    this.closedStreams++;
  }
  respond(): void {}
  heldChanged(_stream: H2Stream, delta: number): void {
    this.held += delta;
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Pieces of 4 KiB and more are held as they came (smaller ones are coalesced), so tests see them. */
const one = Buffer.alloc(5000, 'one ');
const two = Buffer.alloc(6000, 'two ');

function heldStream(): { owner: FakeOwner; stream: H2Stream } {
  const owner = new FakeOwner();
  const stream = new H2Stream(owner, 1, 65_535, 65_535);
  stream.receive(one);
  stream.receive(two);
  stream.endReceived = true;
  stream.receiveEnd();
  return { owner, stream };
}

describe('H2Stream', () => {
  it("holds data and END_STREAM that arrive before any consumer, and counts them as held", () => {
    const { owner, stream } = heldStream();
    assert.equal(owner.held, 11_000);
    assert.equal(owner.consumedBytes, 0, 'no window goes back before the data is read');
    assert.equal(stream.isPaused(), true);
  });

  it("delivers held data and then 'end' to listeners attached one after the other in the same tick, like a Readable", async () => {
    const { owner, stream } = heldStream();
    const events: string[] = [];
    stream.on('data', (c: Buffer) => events.push(`data:${c.length}`));
    stream.on('end', () => events.push('end'));
    await tick();
    assert.deepEqual(events, ['data:5000', 'data:6000', 'end']);
    assert.equal(owner.held, 0);
    assert.equal(owner.consumedBytes, 11_000);
  });

  it("starts flowing on addListener('data') and once('data') as on on('data')", async () => {
    for (const attach of ['addListener', 'once'] as const) {
      const { stream } = heldStream();
      const got: Buffer[] = [];
      stream[attach]('data', (c: Buffer) => got.push(c));
      await tick();
      assert.ok(got.length >= 1, `${attach}: got nothing`);
      assert.ok(got[0]!.equals(one));
    }
  });

  it('keeps the order when data arrives between resume() and the delivery of what was held', async () => {
    const owner2 = new FakeOwner();
    const s = new H2Stream(owner2, 3, 65_535, 65_535);
    s.receive(Buffer.from('a'));
    const got: string[] = [];
    s.on('data', (c: Buffer) => got.push(String(c)));
    s.receive(Buffer.from('b'));
    await tick();
    s.receive(Buffer.from('c'));
    assert.equal(got.join(''), 'abc');
  });

  it("stays paused after an explicit pause() even when a 'data' listener comes later, until resume()", async () => {
    const { stream } = heldStream();
    stream.pause();
    const got: Buffer[] = [];
    stream.on('data', (c: Buffer) => got.push(c));
    await tick();
    assert.deepEqual(got, []);
    stream.resume();
    await tick();
    assert.ok(Buffer.concat(got).equals(Buffer.concat([one, two])));
  });

  it('holds again, in order, what arrives after a consumer pauses in its data handler', async () => {
    const { stream, owner } = heldStream();
    const got: number[] = [];
    stream.on('data', (c: Buffer) => {
      got.push(c.length);
      stream.pause();
    });
    let ended = false;
    stream.on('end', () => (ended = true));
    await tick();
    assert.deepEqual(got, [5000]);
    assert.equal(owner.held, 6000);
    stream.resume();
    await tick();
    assert.deepEqual(got, [5000, 6000]);
    assert.equal(ended, false, "'end' waits while paused");
    stream.resume();
    await tick();
    assert.equal(ended, true);
  });

  it("emits 'close' exactly once when both sides ended, and leaves its session", async () => {
    const owner = new FakeOwner();
    const stream = new H2Stream(owner, 1, 65_535, 65_535);
    let closes = 0;
    stream.on('close', () => closes++);
    stream.on('data', () => undefined);
    stream.end('bye');
    stream.endReceived = true;
    stream.receiveEnd();
    await tick();
    stream.close(H2Code.Cancel);
    await tick();
    assert.equal(closes, 1);
    assert.equal(owner.closedStreams, 1);
    assert.deepEqual(owner.resets, [], 'no RST_STREAM for a stream already closed');
    assert.equal(stream.rstCode, H2Code.NoError);
  });

  it("emits 'error' only for error codes and only when someone listens", async () => {
    const a = new H2Stream(new FakeOwner(), 1, 1, 1);
    a.terminate(H2Code.ConnectError); // no listener: must not throw
    const b = new H2Stream(new FakeOwner(), 3, 1, 1);
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    b.terminate(H2Code.Cancel);
    const c = new H2Stream(new FakeOwner(), 5, 1, 1);
    c.on('error', (e) => errors.push(e));
    c.terminate(H2Code.ProtocolError);
    assert.equal(errors.length, 1);
  });
});
