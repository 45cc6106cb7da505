import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { clientPreface, frame, FrameFlag, FrameType, H2Code } from './frames.js';
import { randomIndex, seededRandom } from '../seeded-random.js';

type Event =
  | { kind: 'frame'; type: number; flags: number; streamId: number; payload: string }
  | { kind: 'data'; streamId: number; flags: number; length: number; payload: string }
  | { kind: 'error'; code: number; reason: string };

/** Records what a reader delivers, with each DATA frame's pieces joined (and the pieces kept). */
class Recorder implements FrameSink {
  readonly events: Event[] = [];
  readonly pieces: Buffer[] = [];
  private current: { streamId: number; length: number; parts: Buffer[] } | undefined;
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    this.events.push({ kind: 'frame', type, flags, streamId, payload: payload.toString('hex') });
  }
  onDataStart(streamId: number, _flags: number, length: number): void {
    assert.equal(this.current, undefined, 'a DATA frame starts inside another');
    this.current = { streamId, length, parts: [] };
  }
  onDataPiece(streamId: number, piece: Buffer): void {
    assert.equal(streamId, this.current?.streamId);
    const copy = Buffer.from(piece); // a piece is only valid during the call
    this.current!.parts.push(copy);
    this.pieces.push(copy);
  }
  onDataEnd(streamId: number, flags: number): void {
    const c = this.current!;
    assert.equal(streamId, c.streamId);
    this.current = undefined;
    this.events.push({ kind: 'data', streamId, flags, length: c.length, payload: Buffer.concat(c.parts).toString('hex') });
  }
  onFrameError(code: number, reason: string): void {
    this.events.push({ kind: 'error', code, reason });
  }
}

function bytes(n: number, seed: number): Buffer {
  const random = seededRandom(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = randomIndex(random, 256);
  return b;
}

function padded(type: number, flags: number, streamId: number, body: Buffer, padLength: number): Buffer {
  return frame(type, flags | FrameFlag.Padded, streamId, Buffer.concat([Buffer.from([padLength]), body, Buffer.alloc(padLength)]));
}

/** One frame of every type, as a peer may send them. */
function everyFrameType(): Buffer[] {
  return [
    frame(FrameType.Settings, 0, 0, Buffer.from('000400010000000500004000', 'hex')),
    frame(FrameType.Settings, FrameFlag.Ack, 0),
    frame(FrameType.Headers, FrameFlag.EndHeaders, 1, bytes(40, 1)),
    frame(FrameType.Headers, 0, 3, bytes(20, 2)),
    frame(FrameType.Continuation, FrameFlag.EndHeaders, 3, bytes(30, 3)),
    frame(FrameType.Data, 0, 1, bytes(1000, 4)),
    frame(FrameType.Data, FrameFlag.EndStream, 1),
    padded(FrameType.Data, 0, 3, bytes(300, 5), 17),
    padded(FrameType.Data, FrameFlag.EndStream, 3, Buffer.alloc(0), 0),
    frame(FrameType.Priority, 0, 5, Buffer.from('0000000310', 'hex')),
    frame(FrameType.RstStream, 0, 5, Buffer.from('00000008', 'hex')),
    frame(FrameType.PushPromise, FrameFlag.EndHeaders, 1, bytes(12, 6)),
    frame(FrameType.Ping, 0, 0, bytes(8, 7)),
    frame(FrameType.Ping, FrameFlag.Ack, 0, bytes(8, 8)),
    frame(FrameType.WindowUpdate, 0, 0, Buffer.from('00010000', 'hex')),
    frame(0xfa, 0x3, 7, bytes(9, 9)), // unknown type: delivered, the session ignores it
    frame(FrameType.GoAway, 0, 0, Buffer.concat([Buffer.from('0000000500000000', 'hex'), Buffer.from('bye')])),
  ];
}

function read(chunks: readonly Buffer[], opts = { maxFrameBytes: 16_384, expectPreface: false }): Recorder {
  const rec = new Recorder();
  const reader = new FrameReader(rec, opts);
  for (const c of chunks) reader.push(c);
  return rec;
}

function splitRandomly(whole: Buffer, seed: number): Buffer[] {
  const random = seededRandom(seed);
  const out: Buffer[] = [];
  for (let at = 0; at < whole.length; ) {
    const n = 1 + randomIndex(random, 64);
    out.push(Buffer.from(whole.subarray(at, at + n)));
    at += n;
  }
  return out;
}

describe('FrameReader', () => {
  const stream = Buffer.concat(everyFrameType());
  const whole = read([stream]);

  it('delivers every frame type of one buffer, DATA payloads whole and padding removed', () => {
    assert.equal(whole.events.length, everyFrameType().length);
    assert.ok(whole.events.every((e) => e.kind !== 'error'));
    const data = whole.events.filter((e) => e.kind === 'data');
    assert.deepEqual(data.map((e) => e.length), [1000, 0, 318, 1]);
    assert.equal(data[0]!.payload, bytes(1000, 4).toString('hex'));
    assert.equal(data[2]!.payload, bytes(300, 5).toString('hex'));
    assert.equal(data[3]!.payload, '');
    const unknown = whole.events.find((e) => e.kind === 'frame' && e.type === 0xfa);
    assert.deepEqual(unknown, { kind: 'frame', type: 0xfa, flags: 3, streamId: 7, payload: bytes(9, 9).toString('hex') });
  });

  it('gives the same frames when the bytes arrive one at a time', () => {
    const chunks = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(read(chunks).events, whole.events);
  });

  it('gives the same frames for every split of the stream in two', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const got = read([stream.subarray(0, cut), stream.subarray(cut)]).events;
      assert.deepEqual(got, whole.events, `split at byte ${cut}`);
    }
  });

  it('gives the same frames for random chunkings (seeded)', () => {
    for (let seed = 1; seed <= 50; seed++) assert.deepEqual(read(splitRandomly(stream, seed)).events, whole.events, `seed ${seed}`);
  });

  it('does not keep views of a chunk the caller reuses after push() returns', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec, { maxFrameBytes: 16_384, expectPreface: false });
    const scratch = Buffer.alloc(1);
    for (const b of stream) {
      scratch[0] = b;
      reader.push(scratch);
    }
    assert.deepEqual(rec.events, whole.events);
  });

  it('streams an unpadded DATA payload as pieces that concatenate to the payload', () => {
    const payload = bytes(16_000, 11);
    const rec = read(splitRandomly(frame(FrameType.Data, 0, 1, payload), 3));
    assert.ok(rec.pieces.length > 1, 'delivered in pieces as they arrived');
    assert.ok(Buffer.concat(rec.pieces).equals(payload));
    assert.deepEqual(rec.events, [{ kind: 'data', streamId: 1, flags: 0, length: 16_000, payload: payload.toString('hex') }]);
  });

  it('counts the whole padded DATA length (pad length octet and padding) for flow control', () => {
    const rec = read([padded(FrameType.Data, FrameFlag.EndStream, 9, Buffer.from('hello'), 200)]);
    assert.deepEqual(rec.events, [{ kind: 'data', streamId: 9, flags: FrameFlag.EndStream | FrameFlag.Padded, length: 206, payload: Buffer.from('hello').toString('hex') }]);
  });

  it('accepts padding that fills the frame but for the pad length octet', () => {
    const rec = read([frame(FrameType.Data, FrameFlag.Padded, 1, Buffer.concat([Buffer.from([4]), Buffer.alloc(4)]))]);
    assert.deepEqual(rec.events, [{ kind: 'data', streamId: 1, flags: FrameFlag.Padded, length: 5, payload: '' }]);
  });

  it('rejects DATA padding as long as the frame with PROTOCOL_ERROR (RFC 9113 §6.1)', () => {
    const rec = read([frame(FrameType.Data, FrameFlag.Padded, 1, Buffer.concat([Buffer.from([5]), Buffer.alloc(4)])), frame(FrameType.Ping, 0, 0, Buffer.alloc(8))]);
    assert.equal(rec.events.length, 1);
    assert.equal(rec.events[0]!.kind, 'error');
    assert.equal((rec.events[0] as { code: number }).code, H2Code.ProtocolError);
  });

  it('rejects a padded DATA frame too short to hold its pad length', () => {
    const rec = read([frame(FrameType.Data, FrameFlag.Padded, 1)]);
    assert.equal(rec.events.length, 1);
    assert.equal(rec.events[0]!.kind, 'error');
  });

  it('rejects a frame over maxFrameBytes with FRAME_SIZE_ERROR, before its payload arrives', () => {
    const big = frame(FrameType.Data, 0, 1, Buffer.alloc(16_385));
    const rec = read([big.subarray(0, 9)]);
    assert.equal(rec.events.length, 1);
    assert.equal((rec.events[0] as { code: number }).code, H2Code.FrameSizeError);
    const headers = read([frame(FrameType.Headers, FrameFlag.EndHeaders, 1, Buffer.alloc(16_385))]);
    assert.equal((headers.events[0] as { code: number }).code, H2Code.FrameSizeError);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const rec = read([frame(FrameType.Headers, FrameFlag.EndHeaders, 1, Buffer.alloc(16_384))]);
    assert.equal(rec.events.length, 1);
    assert.equal(rec.events[0]!.kind, 'frame');
  });

  it('checks the client preface and then reads frames, at any chunking', () => {
    const input = Buffer.concat([clientPreface, stream]);
    for (const chunks of [[input], [...input].map((b) => Buffer.from([b])), splitRandomly(input, 77)]) {
      assert.deepEqual(read(chunks, { maxFrameBytes: 16_384, expectPreface: true }).events, whole.events);
    }
  });

  it('rejects a bad client preface with PROTOCOL_ERROR and reads nothing after it', () => {
    const bad = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const rec = read([bad, frame(FrameType.Ping, 0, 0, Buffer.alloc(8))], { maxFrameBytes: 16_384, expectPreface: true });
    assert.equal(rec.events.length, 1);
    assert.equal((rec.events[0] as { code: number }).code, H2Code.ProtocolError);
  });

  it('delivers nothing after stop(), even the rest of a DATA frame or of the same chunk', () => {
    const rec = new Recorder();
    const reader = new FrameReader(rec, { maxFrameBytes: 16_384, expectPreface: false });
    const ping = frame(FrameType.Ping, 0, 0, Buffer.alloc(8));
    const data = frame(FrameType.Data, 0, 1, Buffer.alloc(100));
    const sink = rec.onFrame.bind(rec);
    rec.onFrame = (type, flags, streamId, payload) => {
      sink(type, flags, streamId, payload);
      reader.stop();
    };
    reader.push(Buffer.concat([ping, ping, data]));
    assert.equal(rec.events.length, 1);
    reader.push(ping);
    assert.equal(rec.events.length, 1);

    const rec2 = new Recorder();
    const reader2 = new FrameReader(rec2, { maxFrameBytes: 16_384, expectPreface: false });
    reader2.push(data.subarray(0, 50));
    const piecesBefore = rec2.pieces.length;
    reader2.stop();
    reader2.push(data.subarray(50));
    reader2.push(ping);
    assert.equal(rec2.pieces.length, piecesBefore);
    assert.deepEqual(rec2.events, []);
  });
});
