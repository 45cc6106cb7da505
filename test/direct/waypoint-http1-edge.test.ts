// Direct tier: the waypoint's own HTTP/1.1 server and client (h1-downstream.ts,
// h1-upstream-connection.ts, hbone-http-upstream.ts) against misbehaving peers — an adversarial
// review: header values with CR/LF from route header filters (response splitting), HTTP/1.0 with
// Transfer-Encoding, clients that never close their side, upstreams that answer early without
// reading, add bytes after a response, close mid-body, storm 1xx, send huge heads, and a slow
// reader of a large download (reliability-cases.md 4b, 14, 16, 17, 20). Addresses 127.93.x.y.
import assert from 'node:assert/strict';
import net, { type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { rawHttp, startWaypoint, type WaypointUnderTest } from '../support/waypoint-harness.js';
import { DirectCluster } from '../support/ztunnel-harness.js';

// A route on the echo Service whose header filters carry CR/LF in values (the HTTPRoute decoder
// bounds their length only), and a catch-all to the pods.
const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edge, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /split-resp}}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-note, value: "a\\r\\nset-cookie: evil=1"}]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cl-req}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: content-length, value: "0"}]}}]
    retry: {attempts: 0}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /cl-resp}}]
    filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: content-length, value: "1"}]}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /no-retry}}]
    retry: {attempts: 0}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /split-req}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-note, value: "a\\r\\nx-smuggled: 1"}]}}]
    backendRefs: [{name: echo, port: 80}]
  - backendRefs: [{name: echo, port: 80}]
`;
const mesh = waypointMesh('127.93', route);
const host = 'echo.demo.svc.cluster.local';

/** What a raw backend saw: every byte of every connection, and how many connections. */
interface RawBackend {
  readonly received: Buffer[];
  connections: number;
  /** Response body bytes the `/big` handler managed to write (the waypoint's backpressure bounds it). */
  bigWritten: number;
  close(): Promise<void>;
}

/**
 * A byte-level HTTP/1.1 backend: parses request heads itself and answers by path with the
 * misbehaviour under test; anything else gets a 200 whose body is the request head it saw.
 */
async function startRawBackend(ip: string): Promise<RawBackend> {
  const sockets = new Set<Socket>();
  const state: RawBackend = { received: [], connections: 0, bigWritten: 0, close: async () => undefined };
  const server = net.createServer((s) => {
    sockets.add(s);
    state.connections++;
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let skip = 0; // body bytes of the current request still to drop
    let chunkedBody = false;
    let afterBody: (() => void) | undefined;
    const onData = (d: Buffer): void => {
      state.received.push(d);
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, buf.length);
          buf = buf.subarray(n);
          skip -= n;
          if (skip > 0) return;
        }
        afterBody?.();
        afterBody = undefined;
        if (chunkedBody) {
          const end = buf.indexOf('0\r\n\r\n');
          if (end === -1) return;
          buf = buf.subarray(end + 5);
          chunkedBody = false;
        }
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = buf.toString('latin1', 0, end + 4);
        buf = buf.subarray(end + 4);
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        skip = cl ? Number(cl[1]) : 0;
        chunkedBody = /\r\ntransfer-encoding: *chunked/i.test(head);
        const path = head.split(' ')[1] ?? '/';
        if (path.includes('/count')) {
          // Answers once the whole Content-Length body arrived, with its size.
          const size = skip;
          afterBody = () => s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${String(size).length}\r\n\r\n${size}`);
          continue;
        }
        if (answer(s, path, head) === 'stop') {
          s.off('data', onData);
          s.pause();
          return;
        }
      }
    };
    s.on('data', onData);
  });
  const answer = (s: Socket, path: string, head: string): 'stop' | void => {
    if (path.includes('/early')) {
      // Answers before the request body arrived and never reads another byte.
      s.write('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n');
      return 'stop';
    }
    if (path.startsWith('/extra')) {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      setTimeout(() => s.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged'), 30);
      return;
    }
    if (path.startsWith('/cut')) {
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
      setTimeout(() => s.destroy(), 50);
      return 'stop';
    }
    if (path.startsWith('/broken-503')) {
      // A retriable answer whose body breaks off: the waypoint drains it while it retries.
      s.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 100\r\n\r\npartial');
      setTimeout(() => s.destroy(), 20);
      return 'stop';
    }
    if (path.includes('/no-response')) {
      s.end();
      return 'stop';
    }
    if (path.startsWith('/says-close')) {
      // Asks for the connection to close but leaves it open: the waypoint must not reuse it.
      s.write('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok');
      return 'stop';
    }
    if (path.startsWith('/storm')) {
      s.write('HTTP/1.1 100 Continue\r\n\r\n'.repeat(2000) + 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstorm');
      return;
    }
    if (path.startsWith('/huge-head')) {
      s.write(`HTTP/1.1 200 OK\r\nx-big: ${'b'.repeat(100 * 1024)}\r\ncontent-length: 2\r\n\r\nok`);
      return;
    }
    if (path.startsWith('/status-099')) {
      s.write('HTTP/1.1 099 Odd\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      return;
    }
    if (path.startsWith('/big')) {
      // 256 MiB as fast as the socket drains.
      const total = 256 * 1024 * 1024;
      const block = Buffer.alloc(64 * 1024, 0x61);
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      const pump = (): void => {
        while (state.bigWritten < total && !s.destroyed) {
          state.bigWritten += block.length;
          if (!s.write(block)) return void s.once('drain', pump);
        }
      };
      pump();
      return 'stop';
    }
    const body = Buffer.from(head, 'latin1');
    s.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n`, 'latin1'), body]));
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(8080, ip, () => resolve());
  });
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

/**
 * Whether the connection behind `s` is gone after `ms`: a client that got a FIN and reads no more
 * notices the reset that followed only when it writes, so the probe writes and waits for the error.
 */
async function goneAfter(s: Socket, ms: number): Promise<boolean> {
  await new Promise((r) => setTimeout(r, ms));
  if (s.destroyed) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), 1_000);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.write('GET /probe HTTP/1.1\r\n');
    setTimeout(() => s.writable && s.write('Host: probe\r\n'), 200);
  });
}

async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the waypoint’s HTTP/1.1 under misbehaving peers (direct tier)', () => {
  let cluster: DirectCluster;
  let wp: WaypointUnderTest;
  const backends: RawBackend[] = [];
  const connect = (): Socket => cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });
  const seenByBackends = (): string => Buffer.concat(backends.flatMap((b) => b.received)).toString('latin1');
  const stillServes = async (): Promise<void> => {
    const r = await rawHttp(connect(), `GET /still-up HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 200 /, 'the waypoint keeps serving');
  };

  before(async () => {
    cluster = await DirectCluster.start(mesh.nodes, mesh.yaml);
    wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, mesh.ips.waypoint, { idleTimeoutMs: 1_000, headersTimeoutMs: 1_000 });
    backends.push(await startRawBackend(mesh.ips.v1), await startRawBackend(mesh.ips.v2));
  });

  after(async () => {
    await wp?.waypoint.shutdown(0);
    for (const b of backends) await b.close();
    await cluster?.close();
  });

  it('never writes a CR or LF from a response header filter onto the client connection (no response splitting)', async () => {
    const r = await rawHttp(connect(), `GET /split-resp HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const head = r.slice(0, r.indexOf('\r\n\r\n'));
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(head, /\r\nset-cookie:/i, JSON.stringify(head));
  });

  it('never writes a CR or LF from a request header filter onto the upstream connection (no request splitting)', async () => {
    const r = await rawHttp(connect(), `GET /split-req HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 /);
    assert.doesNotMatch(seenByBackends(), /\r\nx-smuggled:/i);
  });

  it('never sends the upstream more body than the Content-Length a route filter set (no request smuggling)', async () => {
    const inner = `GET /smuggled HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    await rawHttp(connect(), `POST /cl-req HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(seenByBackends(), /GET \/smuggled/);
  });

  it('never sends the client more body than the Content-Length a route filter set (no response desync)', async () => {
    const r = await rawHttp(connect(), `GET /cl-resp HTTP/1.1\r\nHost: ${host}\r\n\r\nGET /after-cl HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const end = r.indexOf('\r\n\r\n');
    if (end === -1) return; // reset before any head: nothing to misread
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(r.slice(0, end))?.[1]);
    const after = r.slice(end + 4 + length);
    assert.ok(after === '' || after.startsWith('HTTP/1.1 '), `bytes after the declared body: ${JSON.stringify(after.slice(0, 60))}`);
  });

  it('refuses an HTTP/1.0 request with Transfer-Encoding as faulty framing (RFC 9112 §6.1), reaching no backend', async () => {
    const before = seenByBackends().length;
    const r = await rawHttp(connect(), `POST /ten-chunked HTTP/1.0\r\nHost: ${host}\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /after HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 400 /, JSON.stringify(r.slice(0, 80)));
    assert.equal((r.match(/HTTP\/1\.1 \d{3}/g) ?? []).length, 1, 'nothing after the refusal');
    assert.doesNotMatch(seenByBackends().slice(before), /\/ten-chunked|\/after/);
  });

  it('serves nothing pipelined after a refused request or a malformed chunked body', async () => {
    const before = seenByBackends().length;
    const next = `GET /after-refused HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const refused = await rawHttp(connect(), `GET / HTTP/1.1\r\nHost : ${host}\r\n\r\n${next}`);
    assert.equal(refused.match(/HTTP\/1\.1 \d{3}/g)?.join(), 'HTTP/1.1 400');
    const badChunk = await rawHttp(connect(), `POST /no-retry/x HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n${next}`);
    assert.doesNotMatch(badChunk, /after-refused/);
    await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(seenByBackends().slice(before), /after-refused/);
  });

  it('fully closes an idle client connection after the idle timeout even when the client keeps its side open', async () => {
    // One request first: a tunnel that never sends a byte is not HTTP (protocol detection).
    const s = connect();
    s.on('error', () => undefined);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(`GET /then-idle HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await waitFor(() => /\r\n\r\n[^]*then-idle/.test(Buffer.concat(got).toString('latin1')));
    // Idle timeout 1 s, then a grace period for the client to close its side.
    assert.equal(await goneAfter(s, 3_000), true, 'the tunnel is not held half-open');
    s.destroy();
  });

  it('fully closes the client connection after refusing a malformed request, even if the client keeps sending', async () => {
    const s = connect();
    s.on('error', () => undefined);
    s.write(`POST / HTTP/1.1\r\nHost : ${host}\r\n\r\n`);
    const keepSending = setInterval(() => s.writable && s.write('junk'), 100);
    try {
      assert.equal(await goneAfter(s, 2_500), true);
    } finally {
      clearInterval(keepSending);
      s.destroy();
    }
  });

  it('answers 408 to a request body that stops arriving (idle timeout), instead of holding the request forever', async () => {
    const s = connect();
    s.on('error', () => undefined);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(`POST /no-retry/count HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\n\r\nonly ten b`);
    await waitFor(() => Buffer.concat(got).toString('latin1').includes('\r\n\r\n'), 4_000).catch(() => undefined);
    s.destroy();
    assert.match(Buffer.concat(got).toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.ok(wp.logs.find('request body timed out').length >= 1);
    await stillServes();
  });

  it('closes the upstream tunnel of an upstream that answered before reading the request body', async () => {
    const before = wp.waypoint.upstream.openTunnels();
    const s = connect();
    s.on('error', () => undefined);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(`POST /no-retry/early HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 10000000\r\n\r\n`);
    s.write(Buffer.alloc(1536 * 1024, 0x62));
    await waitFor(() => Buffer.concat(got).toString('latin1').includes('\r\n\r\n'));
    assert.match(Buffer.concat(got).toString('latin1'), /^HTTP\/1\.1 413 /);
    s.destroy();
    await waitFor(() => wp.waypoint.upstream.openTunnels() <= before, 4_000).catch(() => undefined);
    assert.ok(wp.waypoint.upstream.openTunnels() <= before, `tunnels: ${before} -> ${wp.waypoint.upstream.openTunnels()}`);
  });

  // With retries the forwarder buffers the first MiB, then streams the rest in one attempt
  // (forwarder.ts bufferBody; a `for await` there once destroyed the body on its early return).
  for (const [name, path] of [['streamed (no retries)', '/no-retry/count'], ['with the default retry policy', '/count']] as const) {
    it(`carries an upload larger than the retry buffer (1 MiB) to the backend whole, ${name}`, async () => {
      const size = 3 * 1024 * 1024;
      const s = connect();
      s.on('error', () => undefined);
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`);
      s.write(Buffer.alloc(size, 0x63));
      await new Promise<void>((resolve) => {
        s.once('end', () => resolve());
        s.once('close', () => resolve());
        setTimeout(resolve, 5_000);
      });
      s.destroy();
      const r = Buffer.concat(got).toString('latin1');
      assert.match(r, /^HTTP\/1\.1 200 /, JSON.stringify(r.slice(0, 200)));
      assert.ok(r.endsWith(`\r\n\r\n${size}`), JSON.stringify(r.slice(-100)));
    });
  }

  it('does not take bytes an upstream sent after its response as the answer to the next request', async () => {
    for (let i = 0; i < 5; i++) {
      const first = await rawHttp(connect(), `GET /extra-${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 300);
      assert.match(first, /^HTTP\/1\.1 200 [^]*\r\n\r\nok$/);
      await new Promise((r) => setTimeout(r, 60));
      const next = await rawHttp(connect(), `GET /next-${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.doesNotMatch(next, /forged/);
      assert.match(next, new RegExp(`GET /next-${i} `));
    }
  });

  it('lets an HTTP/1.0 client see a response cut by the upstream as broken, not as a complete body', async () => {
    const s = connect();
    let reset = false;
    s.on('error', () => (reset = true));
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(`GET /cut HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    const ended = await new Promise<'end' | 'close'>((resolve) => {
      s.once('end', () => resolve('end'));
      s.once('close', () => resolve('close'));
    });
    s.destroy();
    const r = Buffer.concat(got).toString('latin1');
    assert.match(r, /^HTTP\/1\.1 200 /);
    assert.ok(reset || ended === 'close', `a clean FIN after a truncated close-delimited body: ${JSON.stringify(r)}`);
  });

  it('survives an upstream that breaks off the body of a response it retries (no uncaught error)', async () => {
    await rawHttp(connect(), `GET /broken-503 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 500);
    await new Promise((r) => setTimeout(r, 100));
    await stillServes();
  });

  it('answers 503 when the upstream closes without a response, and never reuses a tunnel the upstream said to close', async () => {
    const r = await rawHttp(connect(), `GET /no-retry/no-response HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 503 /);
    const connections = (): number => backends.reduce((n, b) => n + b.connections, 0);
    for (let i = 0; i < 3; i++) {
      const before = connections();
      const said = await rawHttp(connect(), `GET /says-close-${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(said, /^HTTP\/1\.1 200 [^]*ok$/);
      const next = await rawHttp(connect(), `GET /after-close-${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(next, new RegExp(`GET /after-close-${i} `), 'answered on a fresh connection');
      assert.ok(connections() > before, 'a new upstream connection was opened');
    }
  });

  it('skips a storm of 2,000 informational responses and relays the final one', async () => {
    const r = await rawHttp(connect(), `GET /storm HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 200 [^]*storm$/);
  });

  it('answers 503 to an upstream response head over the size limit and keeps serving', async () => {
    const r = await rawHttp(connect(), `GET /huge-head HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 503 /);
    await stillServes();
  });

  it('refuses an upstream status below 100 instead of taking it as informational', async () => {
    const r = await rawHttp(connect(), `GET /status-099 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 503 /);
  });

  it('pauses the upstream for a client that stops reading a large download (bounded buffering), and drops that tunnel when the client goes', async () => {
    const tunnelsBefore = wp.waypoint.upstream.openTunnels();
    const s = connect();
    s.on('error', () => undefined);
    let first = false;
    s.once('data', () => {
      first = true;
      s.pause();
    });
    s.write(`GET /big HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await waitFor(() => first);
    const written = (): number => backends.reduce((n, b) => n + b.bigWritten, 0);
    await new Promise((r) => setTimeout(r, 1_500));
    const a = written();
    await new Promise((r) => setTimeout(r, 1_000));
    const b = written();
    s.destroy();
    assert.equal(b, a, 'the backend is paused, not buffered into the proxy');
    // Two 4 MiB HBONE stream windows and loopback socket buffers along the way: about 18-20 MiB.
    assert.ok(a < 32 * 1024 * 1024, `bytes in flight: ${a}`);
    // The tunnel was mid-response: closed, never kept for another request.
    await waitFor(() => wp.waypoint.upstream.openTunnels() <= tunnelsBefore);
  });
});
