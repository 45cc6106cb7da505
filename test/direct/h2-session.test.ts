// The lean HTTP/2 engine (shared/h2/H2Session) against Node's own node:http2 (nghttp2) over real
// mutual TLS on 127.0.0.1, in both roles: bulk CONNECT tunnels byte for byte, flow control both
// ways, SETTINGS changes, RST_STREAM, GOAWAY, PING, idle timeout, large header blocks, and what
// happens when the socket dies under the session.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { FrameType, H2Code } from '../../shared/h2/frames.js';
import type { H2Session } from '../../shared/h2/h2-session.js';
import type { H2Stream } from '../../shared/h2/h2-stream.js';
import { drain, leanClientPair, leanServerPair, pump, settled, until, type H2Pair, type PairOptions } from '../support/h2-pair.js';
import { createTestMesh, type TestMesh } from '../support/mesh.js';
import { within } from '../support/within.js';
import { randomIndex, seededRandom } from '../../shared/seeded-random.js';

const MiB = 1024 * 1024;
const KiB = 1024;
let mesh: TestMesh;
before(async () => {
  mesh = await createTestMesh();
});

/** The session's per-stream bookkeeping, which must be empty once every stream closed. */
function bookkeeping(lean: H2Session): { streams: number; blocked: number; held: number } {
  return { streams: lean.streamCount, blocked: lean['blocked'].size, held: lean['heldBytes'] };
}

async function closed(stream: H2Stream | http2.Http2Stream, what: string): Promise<void> {
  // Not events.once: it rejects on the 'error' a reset with an error code brings.
  if (!stream.destroyed) await within(new Promise((resolve) => stream.once('close', resolve)), 10_000, what);
  await new Promise((r) => setImmediate(r));
}

const pairings = [
  ['a lean client against a node:http2 server', leanClientPair],
  ['node:http2 client against a lean server', leanServerPair],
] as const;

for (const [title, makePair] of pairings) {
  describe(title, () => {
    const open: H2Pair[] = [];
    async function pair(opts: PairOptions = {}): Promise<H2Pair> {
      const p = await makePair(mesh, opts);
      open.push(p);
      return p;
    }
    after(async () => {
      for (const p of open) await p.close();
    });

    it('carries 32 MiB each way byte-exact on one CONNECT stream, and then forgets the stream', async () => {
      const p = await pair();
      const s = await p.open();
      const [leanSent, nodeGot, nodeSent, leanGot] = await within(Promise.all([pump(s.lean, 32 * MiB), drain(s.node), pump(s.node, 32 * MiB), drain(s.lean)]), 60_000, '32 MiB each way');
      assert.deepEqual(nodeGot, { bytes: 32 * MiB, sha256: leanSent });
      assert.deepEqual(leanGot, { bytes: 32 * MiB, sha256: nodeSent });
      await closed(s.lean, 'the lean stream to close');
      assert.equal(s.lean.rstCode, H2Code.NoError);
      assert.deepEqual(bookkeeping(p.lean), { streams: 0, blocked: 0, held: 0 });
    });

    it('carries 100 concurrent streams of 256 KiB each way, each byte-exact', async () => {
      const p = await pair();
      const streams = await Promise.all(Array.from({ length: 100 }, () => p.open()));
      const results = await within(Promise.all(streams.map(async (s) => {
        const [leanSent, nodeGot, nodeSent, leanGot] = await Promise.all([pump(s.lean, 256 * KiB, 16 * KiB), drain(s.node), pump(s.node, 256 * KiB, 16 * KiB), drain(s.lean)]);
        return nodeGot.sha256 === leanSent && leanGot.sha256 === nodeSent && nodeGot.bytes === 256 * KiB && leanGot.bytes === 256 * KiB;
      })), 60_000, '100 streams');
      assert.equal(results.filter(Boolean).length, 100);
      assert.ok(await until(() => p.lean.streamCount === 0));
      assert.deepEqual(bookkeeping(p.lean), { streams: 0, blocked: 0, held: 0 });
    });

    it('sends a paused Node consumer no more than its stream window; write() returns false, and drain comes after resume', async () => {
      const window = 128 * KiB;
      const p = await pair({ nodeSettings: { initialWindowSize: window } });
      p.node.setLocalWindowSize(64 * MiB); // only the stream window limits
      const s = await p.open();
      s.node.pause();
      const total = 2 * MiB;
      let falses = 0;
      for (let at = 0; at < total; at += 64 * KiB) if (!s.lean.write(Buffer.alloc(64 * KiB, at / (64 * KiB)))) falses++;
      assert.ok(falses > 0, 'write() asked the writer to wait');
      const queued = await settled(() => s.lean.writableLength);
      const sent = total - queued;
      assert.ok(sent <= window + s.node.readableLength, `sent ${sent} bytes past a ${window}-byte window (+${s.node.readableLength} read by Node)`);
      assert.ok(sent >= window, `sent only ${sent} bytes of a ${window}-byte window`);
      const drained = once(s.lean, 'drain');
      const got = drain(s.node);
      s.node.resume();
      await within(drained, 10_000, "the lean stream's drain");
      s.lean.end();
      assert.equal((await within(got, 10_000, 'the rest of the data')).bytes, total);
    });

    it('holds a paused lean consumer to exactly its window, then delivers everything in order on resume', async () => {
      const window = 256 * KiB;
      const p = await pair({ lean: { settings: { initialWindowSize: window } } });
      const s = await p.open();
      s.lean.pause();
      const sending = pump(s.node, 3 * MiB);
      assert.ok(await until(() => s.lean.recvWindow === 0), `the peer used the whole window (left ${s.lean.recvWindow})`);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.lean.recvWindow, 0);
      assert.equal(p.lean['heldBytes'], window);
      assert.equal(s.lean.destroyed, false);
      const got = drain(s.lean);
      s.lean.resume();
      const [sentHash, received] = await within(Promise.all([sending, got]), 20_000, 'the held and the rest');
      assert.deepEqual(received, { bytes: 3 * MiB, sha256: sentHash });
      assert.equal(p.lean['heldBytes'], 0);
    });

    it('delivers 16 MiB intact and in order to a consumer that keeps pausing and resuming (relay backpressure)', async () => {
      const p = await pair({ lean: { settings: { initialWindowSize: 256 * KiB } } });
      const s = await p.open();
      const random = seededRandom(42);
      const hash = createHash('sha256');
      let bytes = 0;
      const ended = new Promise<void>((resolve) => s.lean.on('end', resolve));
      s.lean.on('data', (c: Buffer) => {
        hash.update(c);
        bytes += c.length;
        if (random() < 0.3) {
          s.lean.pause();
          const later = (): void => void s.lean.resume();
          if (random() < 0.5) setImmediate(later);
          else setTimeout(later, randomIndex(random, 3));
        }
      });
      const sent = pump(s.node, 16 * MiB, 100_000);
      await within(ended, 30_000, 'the end of 16 MiB');
      assert.equal(bytes, 16 * MiB);
      assert.equal(hash.digest('hex'), await sent);
      assert.equal(p.lean['heldBytes'], 0);
    });

    it('gets 4 MiB intact each way through a Node peer with 16 KiB stream windows and the default connection window', async () => {
      const p = await pair({ nodeSettings: { initialWindowSize: 16_384 } });
      const streams = await Promise.all([p.open(), p.open(), p.open()]);
      const checks = await within(Promise.all(streams.map(async (s) => {
        const [a, b, c, d] = await Promise.all([pump(s.lean, 4 * MiB), drain(s.node), pump(s.node, 4 * MiB), drain(s.lean)]);
        return b.sha256 === a && d.sha256 === c;
      })), 60_000, 'the transfers');
      assert.deepEqual(checks, [true, true, true]);
    });

    it("applies the Node peer's SETTINGS_INITIAL_WINDOW_SIZE change to a stream already open", async () => {
      const p = await pair({ nodeSettings: { initialWindowSize: 16_384 } });
      p.node.setLocalWindowSize(64 * MiB);
      const s = await p.open();
      s.node.pause();
      const total = 2 * MiB;
      s.lean.write(Buffer.alloc(total, 7));
      const before = total - (await settled(() => s.lean.writableLength));
      assert.ok(before <= 16_384 + s.node.readableLength, `sent ${before} with a 16 KiB window`);
      p.node.settings({ initialWindowSize: 512 * KiB });
      const afterGrow = total - (await settled(() => s.lean.writableLength));
      assert.ok(afterGrow >= 512 * KiB, `the grown window was used: ${afterGrow}`);
      assert.ok(afterGrow <= 512 * KiB + s.node.readableLength, `sent ${afterGrow} with a 512 KiB window`);
      const got = drain(s.node);
      s.node.resume();
      s.lean.end();
      assert.equal((await within(got, 10_000, 'the rest')).bytes, total);
    });

    it('stops at a window the Node peer shrinks to 0 mid-stream (negative window), and finishes once it grows again', async () => {
      const p = await pair({ nodeSettings: { initialWindowSize: 256 * KiB } });
      p.node.setLocalWindowSize(64 * MiB);
      const s = await p.open();
      s.node.pause();
      const total = 4 * MiB;
      s.lean.write(Buffer.alloc(total, 3));
      const sentBefore = total - (await settled(() => s.lean.writableLength));
      p.node.settings({ initialWindowSize: 0 });
      await settled(() => s.lean.sendWindow);
      assert.ok(s.lean.sendWindow <= 0, `window after the shrink: ${s.lean.sendWindow}`);
      const got = drain(s.node);
      s.node.resume();
      await new Promise((r) => setTimeout(r, 200));
      const sentWhileZero = total - s.lean.writableLength;
      assert.ok(sentWhileZero - sentBefore <= 256 * KiB, `sent ${sentWhileZero - sentBefore} more into a zero window`);
      p.node.settings({ initialWindowSize: 1 * MiB });
      s.lean.end();
      assert.equal((await within(got, 20_000, 'the rest')).bytes, total);
    });

    it('delivers resets from the lean side with their codes, and the other streams keep working', async () => {
      const p = await pair();
      const [a, b, c] = await Promise.all([p.open(), p.open(), p.open()]);
      a.lean.close(H2Code.Cancel);
      b.lean.close(H2Code.ConnectError);
      await Promise.all([closed(a.node, 'a to close on Node'), closed(b.node, 'b to close on Node')]);
      assert.equal(a.node.rstCode, http2.constants.NGHTTP2_CANCEL);
      assert.equal(b.node.rstCode, http2.constants.NGHTTP2_CONNECT_ERROR);
      const [sent, got] = await within(Promise.all([pump(c.lean, MiB), drain(c.node)]), 10_000, 'the third stream');
      assert.equal(got.sha256, sent);
      assert.equal(p.lean.streamCount, 1);
    });

    it("delivers Node's resets to the lean side with their codes (an error for CONNECT_ERROR), and the other streams keep working", async () => {
      const p = await pair();
      const [a, b, c] = await Promise.all([p.open(), p.open(), p.open()]);
      const errors: Error[] = [];
      b.lean.on('error', (e: Error) => errors.push(e));
      a.node.close(http2.constants.NGHTTP2_CANCEL);
      b.node.close(http2.constants.NGHTTP2_CONNECT_ERROR);
      await Promise.all([closed(a.lean, 'a to close'), closed(b.lean, 'b to close')]);
      assert.equal(a.lean.rstCode, H2Code.Cancel);
      assert.equal(b.lean.rstCode, H2Code.ConnectError);
      assert.equal(errors.length, 1);
      const [sent, got] = await within(Promise.all([pump(c.node, MiB), drain(c.lean)]), 10_000, 'the third stream');
      assert.equal(got.sha256, sent);
      assert.deepEqual(bookkeeping(p.lean), { streams: 1, blocked: 0, held: 0 });
    });

    it('closes gracefully from the lean side: the in-flight stream finishes, then the session closes', async () => {
      const p = await pair();
      const s = await p.open();
      const goaway = once(p.node, 'goaway');
      const leanClosed = once(p.lean, 'close');
      p.lean.close();
      assert.equal((await within(goaway, 5000, "Node's goaway"))[0], http2.constants.NGHTTP2_NO_ERROR);
      if (p.leanRole === 'client') assert.throws(() => p.lean.request({ ':method': 'CONNECT', ':authority': 'a:1' }), /closed/);
      const [a, b, c, d] = await within(Promise.all([pump(s.lean, 2 * MiB), drain(s.node), pump(s.node, 2 * MiB), drain(s.lean)]), 10_000, 'the in-flight stream');
      assert.equal(b.sha256, a);
      assert.equal(d.sha256, c);
      await within(leanClosed, 5000, 'the lean session to close');
    });

    it('closes gracefully from the Node side: the lean side sees goaway and the in-flight stream finishes', async () => {
      const p = await pair();
      const s = await p.open();
      const goaway = once(p.lean, 'goaway');
      p.node.close();
      const [code] = await within(goaway, 5000, 'the lean goaway');
      assert.equal(code, H2Code.NoError);
      if (p.leanRole === 'client') assert.throws(() => p.lean.request({ ':method': 'CONNECT', ':authority': 'a:1' }), /closed/);
      const [a, b, c, d] = await within(Promise.all([pump(s.lean, 2 * MiB), drain(s.node), pump(s.node, 2 * MiB), drain(s.lean)]), 10_000, 'the in-flight stream');
      assert.equal(b.sha256, a);
      assert.equal(d.sha256, c);
      await within(once(p.lean, 'close'), 5000, 'the lean session to close');
    });

    it('answers a PING from Node with its payload, and gets its own PING answered', async () => {
      const p = await pair();
      const payload = Buffer.from('ambit-h2');
      const seen = once(p.lean, 'ping');
      const [err, , echoed] = await within(new Promise<[Error | null, number, Buffer]>((resolve) => p.node.ping(payload, (...args) => resolve(args))), 5000, "Node's ping");
      assert.equal(err, null);
      assert.ok(echoed.equals(payload));
      assert.ok((await seen)[0].equals(payload));
      const [leanErr, ms] = await within(new Promise<[Error | null, number, Buffer]>((resolve) => p.lean.ping((...args) => resolve(args))), 5000, 'the lean ping');
      assert.equal(leanErr, null);
      assert.ok(ms >= 0 && ms < 5000);
      assert.equal(p.lean['pings'].outstanding, 0);
    });

    it('fires setTimeout after silence, not while frames keep arriving', async () => {
      const p = await pair();
      let fired = 0;
      p.lean.setTimeout(300, () => fired++);
      const pinger = setInterval(() => p.node.ping(() => undefined), 50);
      await new Promise((r) => setTimeout(r, 800));
      clearInterval(pinger);
      assert.equal(fired, 0, 'fired while PINGs kept arriving');
      assert.ok(await until(() => fired === 1, 2000), 'fired after silence');
    });

    it('does not fire setTimeout while it keeps sending, even when nothing comes back (writes are activity, as in Node)', async () => {
      const p = await pair();
      const s = await p.open();
      s.node.on('data', () => undefined);
      await new Promise((r) => setTimeout(r, 100)); // the last WINDOW_UPDATE/SETTINGS ack are behind us
      let fired = 0;
      p.lean.setTimeout(300, () => fired++);
      const writer = setInterval(() => s.lean.write(Buffer.from('tick')), 50);
      await new Promise((r) => setTimeout(r, 900));
      clearInterval(writer);
      assert.equal(fired, 0, 'fired while the session kept writing');
      assert.ok(await until(() => fired === 1, 2000), 'fired after silence');
    });

    it('turns the idle timeout off with setTimeout(0), as Node does', async () => {
      const p = await pair();
      let fired = 0;
      p.lean.setTimeout(200, () => fired++);
      p.lean.setTimeout(0, () => fired++);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(fired, 0);
    });

    it('when the TCP socket under it dies: the session closes exactly once and every stream closes once', async () => {
      const p = await pair();
      const streams = await Promise.all([p.open(), p.open(), p.open()]);
      const half = streams[0]!;
      half.lean.end(); // one half-closed stream too
      let sessionCloses = 0;
      p.lean.on('close', () => sessionCloses++);
      const streamCloses = streams.map(() => 0);
      streams.forEach((s, i) => s.lean.on('close', () => streamCloses[i]!++));
      p.leanRaw.destroy();
      assert.ok(await until(() => sessionCloses === 1 && streamCloses.every((n) => n === 1)), `closes: session ${sessionCloses}, streams ${streamCloses}`);
      p.lean.destroy();
      p.lean.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(sessionCloses, 1);
      assert.deepEqual(streamCloses, [1, 1, 1]);
      assert.deepEqual(bookkeeping(p.lean), { streams: 0, blocked: 0, held: 0 });
      assert.equal(p.lean.destroyed, true);
    });

    it('holds a complete response that arrives before a data listener, even when RST_STREAM(NO_ERROR) follows it (RFC 9113 §8.1)', async () => {
      const p = await pair();
      const s = await p.open();
      const resets: number[] = [];
      const original = p.lean.onFrame.bind(p.lean);
      p.lean.onFrame = (type, flags, streamId, payload) => {
        if (type === FrameType.RstStream) resets.push(payload.readUInt32BE(0));
        original(type, flags, streamId, payload);
      };
      s.node.write(Buffer.from('early bytes'));
      s.node.end();
      assert.ok(await until(() => p.lean['heldBytes'] > 0), 'the bytes were held');
      await new Promise((r) => setTimeout(r, 100));
      // nghttp2 as a server ends a stream the client has not ended with RST_STREAM(NO_ERROR).
      if (p.leanRole === 'client') assert.deepEqual(resets, [H2Code.NoError]);
      const events: string[] = [];
      const got: Buffer[] = [];
      s.lean.on('end', () => events.push('end'));
      s.lean.on('close', () => events.push('close'));
      s.lean.on('data', (c: Buffer) => got.push(c));
      if (p.leanRole === 'server') s.lean.end();
      assert.ok(await until(() => events.includes('close')), `events: ${events}`);
      assert.equal(Buffer.concat(got).toString(), 'early bytes');
      assert.deepEqual(events, ['end', 'close']);
      assert.equal(p.lean['heldBytes'], 0);
      assert.equal(p.lean.streamCount, 0);
    });

    it("drops a held response when the consumer closes the stream instead of reading it, and still emits 'close'", async () => {
      const p = await pair();
      const s = await p.open();
      s.node.write(Buffer.alloc(1000));
      s.node.end();
      assert.ok(await until(() => p.lean['heldBytes'] === 1000));
      await new Promise((r) => setTimeout(r, 50));
      const closing = new Promise((resolve) => s.lean.once('close', resolve));
      s.lean.close(H2Code.Cancel);
      await within(closing, 2000, 'close');
      assert.equal(p.lean['heldBytes'], 0);
      assert.equal(p.lean.streamCount, 0);
    });
  });
}
