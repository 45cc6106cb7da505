import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { silentLogger } from '../shared/log.js';
import type { RequestContext } from './downstream.js';
import { serveHttp1 } from './h1-downstream.js';
import { FakeTunnel } from '../test/support/fake-tunnel.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const serve = (onRequest: (req: RequestContext) => void, tunnel = new FakeTunnel(), idleTimeoutMs = 5_000): FakeTunnel => {
  serveHttp1(tunnel, { logger: silentLogger(), headersTimeoutMs: 5_000, idleTimeoutMs, onRequest });
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

  it('answers 408 when a request body stops arriving, but not while its own consumer holds it back', async () => {
    let size = 0;
    const slowConsumer = serve((req) => {
      // The consumer (an upstream reading slowly) starts only after three idle timeouts.
      setTimeout(() => {
        req.down.body.on('data', (c: Buffer) => (size += c.length));
        req.down.body.resume();
      }, 300);
    }, new FakeTunnel(), 100);
    slowConsumer.push(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${512 * 1024}\r\n\r\n`);
    for (let i = 0; i < 8; i++) slowConsumer.push(Buffer.alloc(64 * 1024));
    await new Promise((r) => setTimeout(r, 450));
    assert.equal(size, 512 * 1024, 'the whole body reached the consumer');
    assert.doesNotMatch(slowConsumer.text(), /408/);
    slowConsumer.destroy();

    const stalled = serve((req) => void req.down.body.resume(), new FakeTunnel(), 100);
    stalled.push('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nten bytes.');
    await new Promise((r) => setTimeout(r, 250));
    assert.match(stalled.text(), /^HTTP\/1\.1 408 /);
    stalled.destroy();
  });

  it('survives a client that closes mid-body before anything consumes the body (no uncaught error)', async () => {
    let body: NodeJS.ReadableStream | undefined;
    const tunnel = serve((req) => (body = req.down.body));
    tunnel.push('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nten bytes.');
    await tick();
    tunnel.push(null); // FIN: the rest of the body never comes
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(body, 'the request reached the handler');
    assert.equal((body as unknown as { destroyed: boolean }).destroyed, true);
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

  it('resets a connection whose client keeps its side open after the last response, after another idle timeout', async () => {
    const tunnel = serve((req) => void req.down.reply(200, 'bye'), new FakeTunnel(), 500);
    tunnel.push('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(tunnel.writableEnded, true, 'our side ended');
    assert.equal(tunnel.destroyed, false, 'the client may still close cleanly');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(tunnel.destroyed, true, 'not held half-open forever');
  });
  it('answers 408 to a second request on a keep-alive connection whose head stops arriving, as to the first', async () => {
    const tunnel = new FakeTunnel();
    serveHttp1(tunnel, { logger: silentLogger(), headersTimeoutMs: 50, idleTimeoutMs: 5_000, onRequest: (req) => void req.down.reply(200, 'ok') });
    tunnel.push('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await tick();
    tunnel.push('GET /2 HTTP/1.1\r\nHo');
    await new Promise((r) => setTimeout(r, 150));
    const out = tunnel.text();
    assert.equal(out.match(/HTTP\/1\.1 200 /g)?.length, 1, out);
    assert.match(out, /HTTP\/1\.1 408 Request Timeout\r\n[^]*connection: close\r\n/, JSON.stringify(out));
    assert.equal(tunnel.writableEnded, true, 'the connection ends after the 408');
    tunnel.destroy();
  });

  it('answers 400 to a malformed request that follows a completed one on a keep-alive connection', async () => {
    const tunnel = serve((req) => void req.down.reply(200, 'ok'));
    tunnel.push('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 20));
    const out = tunnel.text();
    assert.equal(out.match(/HTTP\/1\.1 200 /g)?.length, 1, out);
    assert.match(out, /HTTP\/1\.1 400 Bad Request\r\n/, JSON.stringify(out));
    tunnel.destroy();
  });
  it('reads the next request after a response that left a complete request body unread (an upstream that answered early)', async () => {
    const seen: string[] = [];
    const tunnel = serve((req) => {
      seen.push(req.head.path);
      // Answers without reading the body, like an app that answers before it reads the upload.
      void req.down.relay(200, [['content-length', '2']], response('ok'));
    });
    // A 100 KB body in the same chunk as its head: fed past the body's 64 KiB buffer (the tunnel is
    // paused for backpressure) and complete at once.
    const big = 'x'.repeat(100 * 1024);
    tunnel.push(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${big.length}\r\n\r\n${big}`);
    await new Promise((r) => setTimeout(r, 20));
    tunnel.push('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, ['/upload', '/next']);
    assert.equal(tunnel.text().match(/HTTP\/1\.1 200 /g)?.length, 2);
    tunnel.destroy();
  });
});
