import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { maxQueuedBytes, relay, type RelayResult } from './relay.js';

/** client <-> [a  relay  b] <-> upstream, all on loopback. */
interface Rig {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly a: Socket;
  readonly b: Socket;
  readonly done: Promise<RelayResult>;
}

let upstreamServer: net.Server;
let relayServer: net.Server;
const upstreams: Socket[] = [];
const rigs: ((r: Rig) => void)[] = [];

before(async () => {
  upstreamServer = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => upstreams.push(s));
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  relayServer = net.createServer({ allowHalfOpen: true }, (a) => {
    a.pause();
    const b = net.connect({ host: '127.0.0.1', port: (upstreamServer.address() as net.AddressInfo).port, allowHalfOpen: true });
    b.once('connect', () => {
      const done = relay(a, b);
      const wait = async (): Promise<Socket> => {
        while (upstreams.length === 0) await new Promise((r) => setTimeout(r, 5));
        return upstreams.shift()!;
      };
      void wait().then((upstream) => rigs.shift()!({ client: pending!, upstream, a, b, done }));
    });
  });
  await new Promise<void>((r) => relayServer.listen(0, '127.0.0.1', r));
});

after(() => {
  relayServer.close();
  upstreamServer.close();
});

let pending: Socket | undefined;

function rig(): Promise<Rig> {
  return new Promise((resolve) => {
    rigs.push(resolve);
    pending = net.connect({ host: '127.0.0.1', port: (relayServer.address() as net.AddressInfo).port, allowHalfOpen: true });
  });
}

function collect(s: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  s.on('data', (d: Buffer) => parts.push(d));
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('error', reject);
  });
}

/** Writes `data` in chunks of varied sizes (small and large, so write batches start and stop). */
async function writeChunked(s: Socket, data: Buffer): Promise<void> {
  const sizes = [7, 65_536, 9, 16_375, 100, 300_000, 4096, 1];
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - off);
    if (!s.write(data.subarray(off, off + n))) await new Promise((r) => s.once('drain', r));
    off += n;
  }
}

describe('relay', { timeout: 30_000 }, () => {
  it('carries both directions byte for byte, half-close included, and counts them', async () => {
    const r = await rig();
    r.upstream.resume();
    const up = randomBytes(6 * 1024 * 1024 + 13);
    const down = randomBytes(3 * 1024 * 1024 + 5);
    const atUpstream = collect(r.upstream);
    const atClient = collect(r.client);
    await writeChunked(r.client, up);
    r.client.end();
    // Half-closed: the other direction still flows after the client's FIN arrived upstream.
    assert.ok((await atUpstream).equals(up));
    await writeChunked(r.upstream, down);
    r.upstream.end();
    assert.ok((await atClient).equals(down));
    const result = await r.done;
    assert.equal(result.end, 'completed');
    assert.equal(result.bytesAtoB, up.length);
    assert.equal(result.bytesBtoA, down.length);
  });

  it('stops reading once the destination holds maxQueuedBytes, and resumes when it drains', async () => {
    const r = await rig(); // the upstream stays paused: it reads nothing
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < 800 && !r.client.destroyed; i++) {
        written += chunk.length;
        if (!r.client.write(chunk)) await new Promise((res) => r.client.once('drain', res));
      }
    })();
    let peak = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((res) => setTimeout(res, 10));
      peak = Math.max(peak, r.b.writableLength);
    }
    // Bounded: what waits in the relay is at most the limit plus the chunk that crossed it.
    assert.ok(peak <= maxQueuedBytes + 64 * 1024 * 4, `relay queued ${peak} bytes`);
    assert.ok(r.a.isPaused(), 'the source is paused');
    assert.ok(written < 800 * chunk.length, 'the writer was held back');
    const received = collect(r.upstream);
    r.upstream.resume();
    await writing;
    r.client.end();
    assert.equal((await received).length, 800 * chunk.length);
    r.upstream.end();
    assert.equal((await r.done).end, 'completed');
  });

  it('resets the other side when one side errors', async () => {
    const r = await rig();
    r.upstream.resume();
    const closed = new Promise<void>((res) => r.client.once('close', () => res()));
    r.client.on('error', () => undefined);
    r.upstream.resetAndDestroy();
    const result = await r.done;
    assert.equal(result.end, 'socket_reset');
    await closed;
  });
});

describe('relay() with a side that closed before it started', () => {
  it('settles at once and destroys the other side instead of waiting for a close that already happened', async () => {
    const gone = new PassThrough();
    gone.destroy();
    await once(gone, 'close');
    const other = new PassThrough();
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      relay(other, gone),
      new Promise<'hung'>((res) => { timer = setTimeout(() => res('hung'), 1000); }),
    ]);
    clearTimeout(timer);
    assert.notEqual(result, 'hung', 'relay() settled');
    assert.equal((result as RelayResult).end, 'socket_reset');
    assert.equal(other.destroyed, true, 'the live side is torn down');
  });
});
