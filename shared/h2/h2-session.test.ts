import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { clientPreface, frame, FrameFlag, FrameType, H2Code, settingsFrame, SettingId } from './frames.js';
import { H2Session, type H2SessionOptions } from './h2-session.js';
import type { H2Stream } from './h2-stream.js';
import { encodeHeaderBlock } from './hpack-encoder.js';
import { randomIndex, seededRandom, type Random } from '../seeded-random.js';

/** Just the socket surface H2Session uses, recording what it writes. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writable = true;
  readonly written: Buffer[] = [];
  write(buf: Buffer): boolean {
    this.written.push(Buffer.from(buf));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  destroySoon(): void {
    this.destroy();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.writable = false;
    setImmediate(() => this.emit('close'));
  }
}

function options(role: 'client' | 'server'): H2SessionOptions {
  return {
    role,
    settings: { initialWindowSize: 65_535, maxFrameSize: 16_384, maxHeaderListSize: 16_384, maxConcurrentStreams: 10 },
    connectionWindowBytes: 1 << 20,
    maxHeldBytes: 1 << 20,
    maxOutstandingPings: 10,
    maxSettingsEntries: 32,
  };
}

function bytes(random: Random, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = randomIndex(random, 256);
  return b;
}

const connectBlock = encodeHeaderBlock([[':method', 'CONNECT'], [':authority', 'a:1']]);
const statusBlock = encodeHeaderBlock([[':status', '200']]);

/** A frame that is sometimes well formed, often not: any type, flags, small stream ids, odd lengths. */
function randomFrame(random: Random, role: 'client' | 'server'): Buffer {
  const type = randomIndex(random, 12);
  const flags = randomIndex(random, 4) === 0 ? randomIndex(random, 256) : [0, FrameFlag.EndStream, FrameFlag.EndHeaders, FrameFlag.EndHeaders | FrameFlag.EndStream, FrameFlag.Padded][randomIndex(random, 5)]!;
  const streamId = randomIndex(random, 4) === 0 ? 0 : 1 + randomIndex(random, 12);
  const lengths = [0, 1, 4, 5, 6, 8, 9, 12, randomIndex(random, 300)];
  let payload = bytes(random, lengths[randomIndex(random, lengths.length)]!);
  if ((type === FrameType.Headers || type === FrameType.Continuation) && randomIndex(random, 2) === 0) payload = role === 'server' ? connectBlock : statusBlock;
  if (type === FrameType.Settings && randomIndex(random, 2) === 0) return settingsFrame([[SettingId.InitialWindowSize, randomIndex(random, 2) ? 0 : 0x7fff_ffff], [SettingId.MaxFrameSize, 16_384 + randomIndex(random, 10)]]);
  return frame(type, flags, streamId, payload);
}

/** Streams that answer, write, pause, resume and close at random, as an application might. */
function playWith(stream: H2Stream, random: Random): void {
  stream.on('error', () => undefined);
  const act = (): void => {
    switch (randomIndex(random, 7)) {
      case 0: return void stream.write(bytes(random, randomIndex(random, 40_000)));
      case 1: return void stream.end();
      case 2: return void stream.pause();
      case 3: return void stream.resume();
      case 4: return stream.close(randomIndex(random, 14));
      case 5: return stream.respond({ ':status': 200 }, { endStream: randomIndex(random, 4) === 0 });
      default: return undefined;
    }
  };
  act();
  stream.on('data', act);
  stream.on('end', act);
}

function run(role: 'client' | 'server', seed: number): { threw: unknown; session: H2Session } {
  const random = seededRandom(seed);
  const socket = new FakeSocket();
  const session = new H2Session(socket as unknown as TLSSocket, options(role));
  session.on('error', () => undefined);
  session.on('stream', (s: H2Stream) => playWith(s, random));
  const input: Buffer[] = role === 'server' ? [clientPreface, settingsFrame([])] : [settingsFrame([])];
  for (let i = 0; i < 40; i++) input.push(randomFrame(random, role));
  const wire = Buffer.concat(input);
  try {
    for (let at = 0; at < wire.length; ) {
      const n = 1 + randomIndex(random, 200);
      socket.emit('data', wire.subarray(at, at + n));
      at += n;
      if (role === 'client' && !session.closed && randomIndex(random, 5) === 0) {
        const s = session.request({ ':method': 'CONNECT', ':authority': 'a:1' });
        playWith(s, random);
      }
    }
  } catch (err) {
    return { threw: err, session };
  }
  return { threw: undefined, session };
}

describe('H2Session on malformed input', () => {
  for (const role of ['server', 'client'] as const) {
    it(`never throws out of the socket data handler as a ${role}, whatever frames arrive (2,000 seeded runs)`, () => {
      for (let seed = 1; seed <= 2000; seed++) {
        const { threw } = run(role, seed);
        assert.equal(threw, undefined, `seed ${seed}: ${threw instanceof Error ? threw.stack : String(threw)}`);
      }
    });
  }

  it('ends the connection with GOAWAY(PROTOCOL_ERROR) on DATA for stream 0', async () => {
    const socket = new FakeSocket();
    const session = new H2Session(socket as unknown as TLSSocket, options('server'));
    let closes = 0;
    session.on('close', () => closes++);
    socket.emit('data', Buffer.concat([clientPreface, settingsFrame([]), frame(FrameType.Data, 0, 0, Buffer.alloc(3))]));
    const wire = Buffer.concat(socket.written);
    const goaway = wire.indexOf(Buffer.from([0, 0, 8, FrameType.GoAway]));
    assert.ok(goaway >= 0, 'a GOAWAY was written');
    assert.equal(wire.readUInt32BE(goaway + 13), H2Code.ProtocolError);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    assert.equal(closes, 1);
    assert.equal(session.destroyed, true);
  });
});
