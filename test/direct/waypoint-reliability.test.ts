// Direct tier: the waypoint under bad input and faults (reliability cases 14, 16, 20, 29 and the
// HTTP extras of ../shared/reference/reliability-cases.md). Addresses 127.82.x.y.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { HbonePool } from '../../shared/hbone/pool.js';
import { silentLogger } from '../../shared/log.js';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { httpOver, rawHttp, startEcho, startWaypoint, type EchoBackend, type WaypointUnderTest } from '../support/waypoint-harness.js';
import { DirectCluster } from '../support/ztunnel-harness.js';

const mesh = waypointMesh('127.82');

describe('waypoint under bad input (direct tier)', () => {
  let cluster: DirectCluster;
  let wp: WaypointUnderTest;
  let echoes: EchoBackend[];

  before(async () => {
    cluster = await DirectCluster.start(mesh.nodes, mesh.yaml);
    wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, mesh.ips.waypoint, { headersTimeoutMs: 1_000 });
    echoes = [await startEcho('echo-v1', mesh.ips.v1, 8080), await startEcho('echo-v2', mesh.ips.v2, 8080)];
  });

  after(async () => {
    await wp?.waypoint.shutdown(0);
    await Promise.all((echoes ?? []).map((e) => e.close()));
    await cluster?.close();
  });

  const connect = () => cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });
  const served = (): number => echoes.reduce((n, e) => n + e.requests.length, 0);
  const stillServes = async (): Promise<void> => {
    const r = await httpOver(connect(), { path: '/still-up' });
    assert.equal(r.status, 200, 'the waypoint keeps serving');
  };

  it('refuses request smuggling and malformed request lines with 400 before routing', async () => {
    const probes: Record<string, string> = {
      'content-length with transfer-encoding': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'two content-lengths': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
      'transfer-encoding other than chunked': 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabc',
      'bare CR in a header': 'GET / HTTP/1.1\r\nHost: a\rX-A: b\r\n\r\n',
      'space before the colon': 'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
      'lowercase method': 'get / HTTP/1.1\r\nHost: a\r\n\r\n',
      'NUL in the path': 'GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n',
    };
    const before = served();
    for (const [name, payload] of Object.entries(probes)) {
      const r = await rawHttp(connect(), payload);
      assert.match(r, /^HTTP\/1\.1 400 /, `${name}: ${JSON.stringify(r.slice(0, 80))}`);
    }
    assert.equal(served(), before, 'no probe reached a backend');
    assert.ok(wp.logs.find('malformed http request refused').length >= Object.keys(probes).length);
    await stillServes();
  });

  it('answers 431 to oversized headers: one 1 MB header, or 10,000 small ones', async () => {
    const big = await rawHttp(connect(), `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(1024 * 1024)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    const many = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const r = await rawHttp(connect(), `GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
    assert.match(r, /^HTTP\/1\.1 431 /);
    await stillServes();
  });

  it('passes header names like __proto__ and constructor through as plain headers', async () => {
    const r = await rawHttp(connect(), 'GET /proto HTTP/1.1\r\nHost: a\r\n__proto__: x\r\nconstructor: y\r\nConnection: close\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 200 /);
    const seen = echoes.flatMap((e) => e.requests).find((q) => q.path === '/proto');
    const raw = seen?.raw ?? [];
    assert.equal(raw[raw.indexOf('__proto__') + 1], 'x', `forwarded as a header: ${JSON.stringify(raw)}`);
    assert.equal(raw[raw.indexOf('constructor') + 1], 'y');
  });

  it('closes an HTTP/1 connection whose headers trickle in slower than the headers timeout (slowloris)', async () => {
    const s = connect();
    const started = Date.now();
    let reply = '';
    s.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    // Test sockets allow half-open: the proxy closing its side shows as 'end'.
    const closed = new Promise<void>((resolve) => {
      s.once('end', () => resolve());
      s.once('close', () => resolve());
    });
    s.write('GET / HTTP/1.1\r\n');
    const drip = setInterval(() => s.writable && s.write('X'), 200);
    await closed;
    clearInterval(drip);
    const took = Date.now() - started;
    assert.ok(took < 4_000, `closed after ${took} ms`);
    assert.match(reply, /^HTTP\/1\.1 408 /);
    s.destroy();
    await stillServes();
  });

  it('speaks HTTP/2 with prior knowledge downstream and HTTP/1.1 to the backend', async () => {
    const socket = connect();
    const session = http2.connect('http://echo.demo.svc.cluster.local', { createConnection: () => socket });
    session.on('error', () => undefined);
    try {
      const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = session.request({ ':path': '/over-h2', ':method': 'GET', 'x-test': 'h2' });
        let body = '';
        let status = 0;
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => resolve({ status, body }));
        req.on('error', reject);
        req.end();
      });
      assert.equal(reply.status, 200);
      const echo = JSON.parse(reply.body) as { path: string; headers: Record<string, string> };
      assert.equal(echo.path, '/over-h2');
      assert.equal(echo.headers['x-test'], 'h2');
      assert.match(echo.headers['host'] ?? '', /^echo\.demo\.svc\.cluster\.local(:80)?$/);
    } finally {
      session.destroy();
    }
  });

  it('answers 503 UF when the backend refuses connections, and the access log says so', async () => {
    await echoes[0]!.close();
    await echoes[1]!.close();
    try {
      const r = await httpOver(connect(), { path: '/backend-down' });
      assert.equal(r.status, 503);
      const line = wp.logs.find('request', (l) => l['path'] === '/backend-down')[0];
      assert.match(String(line?.['response_flags']), /UF/);
    } finally {
      echoes = [await startEcho('echo-v1', mesh.ips.v1, 8080), await startEcho('echo-v2', mesh.ips.v2, 8080)];
    }
    await stillServes();
  });
});

describe('waypoint down (direct tier, reliability case 29)', () => {
  let cluster: DirectCluster;
  let echoes: EchoBackend[];
  const m = waypointMesh('127.83');

  before(async () => {
    cluster = await DirectCluster.start(m.nodes, m.yaml);
    echoes = [await startEcho('echo-v1', m.ips.v1, 8080), await startEcho('echo-v2', m.ips.v2, 8080)];
  });

  after(async () => {
    await Promise.all((echoes ?? []).map((e) => e.close()));
    await cluster?.close();
  });

  it('fails traffic that needs the waypoint instead of skipping it, and the destination refuses direct attempts', async () => {
    // No waypoint process is listening: the client ztunnel's CONNECT to it fails.
    const s = cluster.connectFrom('node-1', m.ips.client, { ip: m.vip, port: 80 });
    await assert.rejects(httpOver(s, { path: '/needs-waypoint', timeoutMs: 5_000 }));
    assert.equal(echoes.reduce((n, e) => n + e.requests.length, 0), 0, 'nothing reached a backend');
    // A mesh client going straight to the pod's ztunnel (skipping the waypoint) is denied: 401.
    const pool = new HbonePool({ logger: silentLogger() });
    try {
      const source = await cluster.ca.issue({ trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client' });
      await assert.rejects(
        pool.connect({ source, expectedIdentities: [{ trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'echo' }], nextHop: { host: m.ips.v1, port: 15008 }, authority: `${m.ips.v1}:8080` }),
        (err: Error & { status?: number }) => err.status === 401,
      );
    } finally {
      await pool.close();
    }
  });
});

describe('waypoint SIGTERM drain (direct tier)', () => {
  let cluster: DirectCluster;
  let echoes: EchoBackend[];
  const m = waypointMesh('127.84');

  before(async () => {
    cluster = await DirectCluster.start(m.nodes, m.yaml);
    echoes = [await startEcho('echo-v1', m.ips.v1, 8080), await startEcho('echo-v2', m.ips.v2, 8080)];
  });

  after(async () => {
    await Promise.all((echoes ?? []).map((e) => e.close()));
    await cluster?.close();
  });

  it('lets a request in flight finish within the drain deadline, then stops accepting', async () => {
    const wp = await startWaypoint(cluster, { namespace: 'demo', name: 'echo' }, m.ips.waypoint);
    for (const e of echoes) e.behave({ delayMs: 400 });
    const inFlight = httpOver(cluster.connectFrom('node-1', m.ips.client, { ip: m.vip, port: 80 }), { path: '/slow-during-drain' });
    await new Promise((r) => setTimeout(r, 150));
    const stopped = wp.waypoint.shutdown(3_000);
    const r = await inFlight;
    assert.equal(r.status, 200, 'the request in flight completed');
    await stopped;
    for (const e of echoes) e.behave({});
    await assert.rejects(httpOver(cluster.connectFrom('node-1', m.ips.client, { ip: m.vip, port: 80 }), { path: '/after-drain', timeoutMs: 3_000 }), 'no waypoint: refused');
    assert.equal(wp.logs.find('waypoint stopped').length, 1);
  });
});
