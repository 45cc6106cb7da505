// Direct tier: the waypoint's own HTTP/1.1 server and client (h1-downstream.ts,
// h1-upstream-connection.ts) against node:http peers: every message framing RFC 9112 allows in each
// direction (Content-Length, chunked with trailers, close-delimited), pipelining, HTTP/1.0 clients,
// `Expect: 100-continue`, HEAD, informational responses and kept upstream tunnels. Addresses 127.91.x.y.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { rawHttp, startWaypoint, type WaypointUnderTest } from '../support/waypoint-harness.js';
import { DirectCluster } from '../support/ztunnel-harness.js';

const mesh = waypointMesh('127.91');
const host = 'echo.demo.svc.cluster.local';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A backend whose answer depends on the path: each framing an HTTP/1.1 origin may use. */
async function startFramingBackend(ip: string, seen: Seen[], dropped: string[]): Promise<http.Server> {
  const served = new WeakMap<object, number>();
  const server = http.createServer((req, res) => {
    const n = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, n);
    // An app whose keep-alive timer fires just as the next request arrives on a kept connection.
    if (req.url?.startsWith('/drop-kept') && n > 1) {
      dropped.push(`${req.method} ${req.url}`);
      return void req.socket.destroy();
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      switch (req.url) {
        case '/chunked':
          // No length: node:http sends chunked, and the trailer after the body.
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
          res.write('hello ');
          setTimeout(() => {
            res.write('world');
            res.addTrailers({ 'x-checksum': 'abc123' });
            res.end();
          }, 20);
          return;
        case '/until-close':
          // An HTTP/1.0-style answer: no length, the body ends when the connection does.
          res.socket?.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nbody until close');
          return;
        case '/early-hints':
          res.writeEarlyHints({ link: '</style.css>; rel=preload' });
          res.writeHead(200, { 'content-length': '5' });
          res.end('hints');
          return;
        default: {
          const out = JSON.stringify({ method: req.method, url: req.url, length: body.length, body, te: req.headers['transfer-encoding'] ?? null, cl: req.headers['content-length'] ?? null });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
          res.end(req.method === 'HEAD' ? undefined : out);
        }
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(8080, ip, () => resolve());
  });
  return server;
}

/** Splits `raw` (one or more responses) at each status line. */
const statusLines = (raw: string): string[] => raw.match(/HTTP\/1\.[01] \d{3}[^\r]*/g) ?? [];

describe('the waypoint speaks HTTP/1.1 itself, both sides (direct tier)', () => {
  let cluster: DirectCluster;
  let wp: WaypointUnderTest;
  const backends: http.Server[] = [];
  const seen: Seen[] = [];
  const dropped: string[] = [];
  const connect = (): Socket => cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });

  before(async () => {
    cluster = await DirectCluster.start(mesh.nodes, mesh.yaml);
    wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, mesh.ips.waypoint);
    backends.push(await startFramingBackend(mesh.ips.v1, seen, dropped), await startFramingBackend(mesh.ips.v2, seen, dropped));
  });

  after(async () => {
    await wp?.waypoint.shutdown(0);
    for (const b of backends) {
      b.closeAllConnections();
      await new Promise<void>((resolve) => b.close(() => resolve()));
    }
    await cluster?.close();
  });

  it('carries a chunked request body to the backend intact, in exactly one framing', async () => {
    const r = await rawHttp(connect(), `POST /upload HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, mesh!\r\n0\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 200 /);
    const echoed = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)) as { body: string; te: string | null; cl: string | null };
    assert.equal(echoed.body, 'hello, mesh!');
    // Streamed, it stays chunked; buffered for a retry (Istio's default retry policy), it is sent
    // with its length. Either way exactly one framing.
    assert.ok((echoed.te === 'chunked' && echoed.cl === null) || (echoed.te === null && echoed.cl === '12'), JSON.stringify(echoed));
  });

  it('keeps a Content-Length body as it is', async () => {
    const r = await rawHttp(connect(), `PUT /put HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world`);
    const echoed = JSON.parse(r.slice(r.indexOf('\r\n\r\n') + 4)) as { body: string; te: string | null; cl: string | null };
    assert.deepEqual([echoed.body, echoed.cl, echoed.te], ['hello world', '11', null]);
  });

  it('relays a chunked response with its trailer to an HTTP/1.1 client', async () => {
    const r = await rawHttp(connect(), `GET /chunked HTTP/1.1\r\nHost: ${host}\r\nTE: trailers\r\nConnection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 200 /);
    assert.match(r, /\r\ntransfer-encoding: chunked\r\n/i);
    const decoded = decodeChunked(r.slice(r.indexOf('\r\n\r\n') + 4));
    assert.equal(decoded.data, 'hello world');
    assert.equal(decoded.trailer, 'x-checksum: abc123\r\n\r\n');
  });

  it('relays a body that runs until the upstream closes as chunked to an HTTP/1.1 client, and as close-delimited to HTTP/1.0', async () => {
    const r11 = await rawHttp(connect(), `GET /until-close HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assert.match(r11, /^HTTP\/1\.1 200 /);
    assert.match(r11, /transfer-encoding: chunked\r\n/i);
    assert.match(r11, /\r\n\r\n10\r\nbody until close\r\n0\r\n\r\n$/);
    const r10 = await rawHttp(connect(), `GET /until-close HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    assert.match(r10, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(r10, /transfer-encoding/i);
    assert.match(r10, /connection: close\r\n/i);
    assert.ok(r10.endsWith('\r\n\r\nbody until close'), JSON.stringify(r10));
  });

  it('answers pipelined requests in order on one connection', async () => {
    const one = `GET /first HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
    const two = `POST /second HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\n\r\nabc`;
    const three = `GET /third HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    const r = await rawHttp(connect(), one + two + three);
    assert.deepEqual(statusLines(r).map((l) => l.slice(0, 12)), ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200']);
    const urls = [...r.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(urls, ['/first', '/second', '/third']);
    assert.match(r, /"url":"\/second","length":3,"body":"abc"/);
  });

  it('keeps an HTTP/1.0 client alive only when it asks, and says so', async () => {
    const r = await rawHttp(connect(), `GET /ten HTTP/1.0\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\nGET /ten-again HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    const lines = statusLines(r);
    assert.equal(lines.length, 2, r);
    assert.match(r, /connection: keep-alive\r\n/i);
    assert.match(r, /connection: close\r\n/i);
  });

  it('answers Expect: 100-continue itself and does not forward the expectation', async () => {
    const s = connect();
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.write(`POST /expect HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
    await waitFor(() => Buffer.concat(got).toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
    s.write('data');
    // Test sockets allow half-open: the proxy closing its side shows as 'end'.
    await new Promise<void>((resolve) => {
      s.once('end', () => resolve());
      s.once('close', () => resolve());
    });
    s.destroy();
    const r = Buffer.concat(got).toString('latin1');
    assert.match(r, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    const last = seen.filter((x) => x.url === '/expect').at(-1);
    assert.equal(last?.body, 'data');
    assert.equal(last?.headers.expect, undefined);
  });

  it('sends no body for HEAD and drops informational (1xx) upstream responses', async () => {
    const head = await rawHttp(connect(), `HEAD /head HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, /content-length: \d+\r\n/i);
    assert.ok(head.endsWith('\r\n\r\n'), 'nothing after the head');
    const hints = await rawHttp(connect(), `GET /early-hints HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.deepEqual(statusLines(hints).map((l) => l.slice(0, 12)), ['HTTP/1.1 200']);
    assert.ok(hints.endsWith('hints'));
  });

  it('sends an idempotent request once more on a new tunnel when the app closed the kept one as it arrived, and not a POST', async () => {
    // Warm both endpoints so each has a kept tunnel (round robin), then hit the dropping path.
    for (let i = 0; i < 2; i++) assert.match(await rawHttp(connect(), `GET /warm HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
    const get = await rawHttp(connect(), `GET /drop-kept/get HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    assert.match(get, /^HTTP\/1\.1 200 /, get.slice(0, 200));
    assert.ok(dropped.includes('GET /drop-kept/get'), `the kept tunnel was dropped first: ${JSON.stringify(dropped)}`);
    for (let i = 0; i < 2; i++) assert.match(await rawHttp(connect(), `GET /warm HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
    const post = await rawHttp(connect(), `POST /drop-kept/post HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`);
    assert.match(post, /^HTTP\/1\.1 503 /, 'a POST may have reached the app: not sent again');
  });

  it('reuses kept upstream tunnels across requests instead of opening one per request', async () => {
    const before = wp.waypoint.upstream.openTunnels();
    for (let i = 0; i < 20; i++) {
      const r = await rawHttp(connect(), `GET /reuse-${i} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(r, /^HTTP\/1\.1 200 /);
    }
    assert.ok(wp.waypoint.upstream.openTunnels() <= Math.max(before, 2), `tunnels: ${before} -> ${wp.waypoint.upstream.openTunnels()}`);
  });
});

/** The test's own reading of a chunked body: sizes in hex, then the trailer section. */
function decodeChunked(body: string): { data: string; trailer: string } {
  let data = '';
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, eol), 16);
    at = eol + 2;
    if (size === 0) return { data, trailer: body.slice(at) };
    data += body.slice(at, at + size);
    at += size + 2;
  }
}

async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
