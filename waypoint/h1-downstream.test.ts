import assert from 'node:assert/strict';
import { Duplex, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { silentLogger } from '../shared/log.js';
import type { RequestContext } from './downstream.js';
import { serveHttp1 } from './h1-downstream.js';

/** The tunnel's stream as the server sees it: the client pushes bytes, what the server writes is kept. */
class FakeTunnel extends Duplex {
  readonly written: Buffer[] = [];
  constructor() {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.written.push(c);
    cb();
  }
  text(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const serve = (onRequest: (req: RequestContext) => void, tunnel = new FakeTunnel()): FakeTunnel => {
  serveHttp1(tunnel, { logger: silentLogger(), headersTimeoutMs: 5_000, idleTimeoutMs: 5_000, onRequest });
  return tunnel;
};
const response = (body: string, headers: [string, string][] = [['content-length', String(body.length)]]) => ({
  headers,
  body: Readable.from([Buffer.from(body)], { objectMode: false }),
  trailers: () => undefined,
});

describe('H1 downstream (serveHttp1)', () => {
  it('keeps listener and timer counts flat over 1,000 keep-alive requests on one connection', async () => {
    let done: Promise<number> | undefined;
    const tunnel = serve((req) => {
      done = req.down.relay(200, [['content-length', '2']], response('ok'));
    });
    const events = ['data', 'end', 'close', 'drain', 'error', 'finish'] as const;
    const counts = (): number[] => events.map((e) => tunnel.listenerCount(e));
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let first: number[] = [];
    let firstTimers = 0;
    for (let i = 0; i < 1_000; i++) {
      done = undefined;
      tunnel.push(`GET /${i} HTTP/1.1\r\nHost: a\r\n\r\n`);
      await tick();
      assert.ok(done, `request ${i} reached the handler`);
      await done;
      if (i === 0) {
        first = counts();
        firstTimers = timers();
      }
    }
    assert.deepEqual(counts(), first, `listeners ${events.join(',')}`);
    assert.ok(timers() <= firstTimers, `timers: ${firstTimers} -> ${timers()}`);
    assert.equal(tunnel.text().match(/HTTP\/1\.1 200 /g)?.length, 1_000);
    tunnel.destroy();
  });

  it('keeps a request body paused until its consumer starts it, so a byte-counting listener loses nothing', async () => {
    let seen = '';
    let counted = 0;
    const tunnel = serve((req) => {
      // The forwarder counts bytes with a listener before the upstream is connected.
      req.down.body.on('data', (c: Buffer) => (counted += c.length));
      setTimeout(() => {
        req.down.body.on('data', (c: Buffer) => (seen += c.toString()));
        req.down.body.resume();
      }, 20);
    });
    tunnel.push('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(seen, 'hello');
    assert.equal(counted, 5);
    tunnel.destroy();
  });

  it('drops a relayed header with CR or LF (response splitting) and writes one Content-Length', async () => {
    const tunnel = serve((req) => {
      void req.down.relay(200, [['content-length', '2'], ['x-note', 'a\r\nset-cookie: evil=1'], ['content-length', '9']], response('ok'));
    });
    tunnel.push('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 20));
    const out = tunnel.text();
    assert.doesNotMatch(out, /set-cookie/i);
    assert.equal(out.match(/\r\ncontent-length:/g)?.length, 1, out);
    assert.ok(out.endsWith('\r\n\r\nok'), JSON.stringify(out));
    tunnel.destroy();
  });

  it('resets a connection whose client keeps its side open after the last response, after a grace period', async () => {
    const tunnel = serve((req) => void req.down.reply(200, 'bye'));
    tunnel.push('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tunnel.writableEnded, true, 'our side ended');
    assert.equal(tunnel.destroyed, false, 'the client may still close cleanly');
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(tunnel.destroyed, true, 'not held half-open forever');
  });
});
