// Direct tier: HTTP/2 clients through the waypoint, the edges of a stream's life — bodies kept
// across retries and mirrors, client and upstream resets, gRPC answers the waypoint makes itself,
// bodiless responses, many streams on one session. Addresses 127.95.x.y.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { waypointScene, type EchoReply } from '../support/waypoint-harness.js';
import { httpGet, metricValue } from '../support/ztunnel-harness.js';
import { clientPreface, FrameFlag, FrameReader, FrameType, headerBlock, headersFrame, settingsFrame } from '../support/h2-frames.js';

// /noretry streams bodies (retries off); everything else has Istio's default retry policy.
const routes = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo.demo.svc.cluster.local]
  http:
  - match: [{uri: {prefix: /noretry}}]
    route: [{destination: {host: echo.demo.svc.cluster.local}}]
    retries: {attempts: 0}
  - match: [{uri: {prefix: /mirror}}]
    route: [{destination: {host: echo.demo.svc.cluster.local}}]
    mirror: {host: echo.demo.svc.cluster.local}
  - route: [{destination: {host: echo.demo.svc.cluster.local}}]
`;
const mesh = waypointMesh('127.95', routes);

interface H2Reply {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
  /** How the stream finished: a clean end, or an error (a reset). */
  readonly ended: 'end' | 'error';
}

function call(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2Reply> {
  return new Promise((resolve) => {
    const req = session.request(headers);
    let status = 0;
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[':status']);
      head = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status, headers: head, trailers, body: Buffer.concat(chunks), ended: 'end' }));
    req.on('error', () => resolve({ status, headers: head, trailers, body: Buffer.concat(chunks), ended: 'error' }));
    req.end(body);
  });
}

/** HTTP/2 apps on both echo pods' port 9090; close() also ends their sessions (the waypoint keeps one per pod). */
async function grpcApps(ips: readonly string[], onStream: (stream: http2.ServerHttp2Stream) => void, onRequest?: (authority: string, body: string) => void): Promise<{ close(): void }> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const servers = await Promise.all(ips.map((ip) => new Promise<http2.Http2Server>((resolve) => {
    const server = http2.createServer();
    server.on('session', (session) => {
      sessions.add(session);
      session.on('error', () => undefined);
      session.once('close', () => sessions.delete(session));
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (onRequest) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => onRequest(String(headers[':authority']), Buffer.concat(chunks).toString('latin1')));
      }
      onStream(stream);
    });
    server.listen(9090, ip, () => resolve(server));
  })));
  return {
    close() {
      for (const s of sessions) s.destroy();
      for (const server of servers) server.close();
    },
  };
}

describe('HTTP/2 streams through the waypoint (direct tier)', () => {
  const scene = waypointScene(mesh);

  const session = (port = 80): http2.ClientHttp2Session => {
    const socket = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port });
    const s = http2.connect(`http://echo.demo.svc.cluster.local${port === 80 ? '' : `:${port}`}`, { createConnection: () => socket });
    s.on('error', () => undefined);
    return s;
  };
  const logged = (path: string) => scene.wp.logs.find('request', (l) => l['path'] === path);
  async function until(what: string, pred: () => boolean, ms = 3_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) assert.fail(`timed out waiting: ${what}`);
      await sleep(20);
    }
  }

  for (const path of ['/retried/client-reset', '/noretry/client-reset']) {
    it(`finishes a request whose client resets its stream mid-body (${path})`, async () => {
      const s = session();
      try {
        const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'text/plain' });
        req.on('error', () => undefined);
        req.write('x'.repeat(10_000));
        await sleep(200);
        req.close(http2.constants.NGHTTP2_CANCEL);
        await until(`an access log line for ${path}`, () => logged(path).length === 1);
        assert.match(String(logged(path)[0]!['response_flags']), /DC/);
      } finally {
        s.destroy();
      }
    });
  }

  it('resends the same body on each retry after a 503', async () => {
    const body = 'r'.repeat(100_000) + '|end';
    for (const e of scene.echoes) e.behave({ status: 503 });
    const s = session();
    try {
      const r = await call(s, { ':method': 'POST', ':path': '/retried/same-body', 'content-type': 'text/plain' }, body);
      assert.equal(r.status, 503);
      const attempts = scene.echoes.flatMap((e) => e.requests).filter((q) => q.path === '/retried/same-body');
      assert.equal(attempts.length, 3);
      for (const a of attempts) assert.equal(a.body, body);
      const line = logged('/retried/same-body')[0]!;
      assert.equal(line['bytes_received'], body.length, 'the client sent the body once');
      assert.equal(line['bytes_sent'], r.body.length);
    } finally {
      for (const e of scene.echoes) e.behave({});
      s.destroy();
    }
  });

  it('resends the whole body on each retry when the first attempt got it while it was still arriving', async () => {
    for (const e of scene.echoes) e.behave({ status: 503 });
    const s = session();
    try {
      const req = s.request({ ':method': 'POST', ':path': '/retried/trickle', 'content-type': 'text/plain' });
      const done = new Promise<number>((resolve) => {
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', () => resolve(0));
        req.resume();
      });
      const parts = Array.from({ length: 4 }, (_, i) => `${i}:${'t'.repeat(20_000)}|`);
      for (const p of parts) {
        req.write(p);
        await sleep(50);
      }
      req.end();
      assert.equal(await done, 503);
      const attempts = scene.echoes.flatMap((e) => e.requests).filter((q) => q.path === '/retried/trickle');
      assert.equal(attempts.length, 3);
      for (const a of attempts) assert.equal(a.body, parts.join(''));
    } finally {
      for (const e of scene.echoes) e.behave({});
      s.destroy();
    }
  });

  it('streams a body over 1 MiB whole when retries are on', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024 + 123, 'b');
    const s = session();
    try {
      const r = await call(s, { ':method': 'POST', ':path': '/retried/big', 'content-type': 'text/plain' }, body);
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as EchoReply).body.length, body.length);
    } finally {
      s.destroy();
    }
  });

  it('copies the body to the mirror and the route alike', async () => {
    const body = 'm'.repeat(50_000);
    const s = session();
    try {
      const r = await call(s, { ':method': 'POST', ':path': '/mirror/body', 'content-type': 'text/plain' }, body);
      assert.equal(r.status, 200);
      assert.equal((JSON.parse(r.body.toString()) as EchoReply).body, body);
      await until('the mirrored copy', () => scene.echoes.some((e) => e.requests.some((q) => q.path === '/mirror/body' && String(q.headers.host).includes('-shadow'))));
      const copy = scene.echoes.flatMap((e) => e.requests).find((q) => q.path === '/mirror/body' && String(q.headers.host).includes('-shadow'))!;
      assert.equal(copy.body, body);
    } finally {
      s.destroy();
    }
  });

  it('answers HEAD without a body, ending the stream', async () => {
    const s = session();
    try {
      const head = await call(s, { ':method': 'HEAD', ':path': '/head' });
      assert.equal(head.status, 200);
      assert.equal(head.ended, 'end');
      assert.equal(head.body.length, 0);
    } finally {
      s.destroy();
    }
  });

  it('relays a 204 and a 304 whose app sent a Content-Length as well-formed HTTP/2 responses', async () => {
    // Node's HTTP/1.1 server (the echo app) keeps an explicit content-length on a 204, which RFC
    // 9110 §8.6 forbids and HTTP/2 clients reject.
    const s = session();
    try {
      for (const status of [204, 304]) {
        for (const e of scene.echoes) e.behave({ status });
        const r = await call(s, { ':method': 'GET', ':path': `/status/${status}` });
        assert.equal(r.status, status);
        assert.equal(r.ended, 'end');
        assert.equal(r.body.length, 0);
      }
    } finally {
      for (const e of scene.echoes) e.behave({});
      s.destroy();
    }
  });

  it('carries 64 concurrent streams on one session, each with its own body', async () => {
    const s = session();
    try {
      const replies = await Promise.all(Array.from({ length: 64 }, (_, i) => call(s, { ':method': 'POST', ':path': `/many/${i}`, 'content-type': 'text/plain' }, `${i}:${'z'.repeat(i * 100)}`)));
      for (const [i, r] of replies.entries()) {
        assert.equal(r.status, 200, `stream ${i}`);
        const echo = JSON.parse(r.body.toString()) as EchoReply;
        assert.equal(echo.path, `/many/${i}`);
        assert.equal(echo.body, `${i}:${'z'.repeat(i * 100)}`);
      }
    } finally {
      s.destroy();
    }
  });

  it('answers a gRPC call it cannot forward as Envoy does: HTTP 200, grpc-status 14 UNAVAILABLE, the reason in grpc-message', async () => {
    const s = session(9090); // nothing listens on 9090: connect failure, 503 UF
    try {
      const r = await call(s, { ':method': 'POST', ':path': '/echo.Echo/Unreachable', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.from([0, 0, 0, 0, 0]));
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/grpc');
      assert.equal(r.headers['grpc-status'], '14');
      assert.match(String(r.headers['grpc-message']), /upstream connect error/);
      assert.equal(r.ended, 'end');
      const line = logged('/echo.Echo/Unreachable')[0]!;
      assert.equal(line['response_code'], 503);
      assert.match(String(line['response_flags']), /UF/);
      const text = (await httpGet(scene.wp.waypoint.admin.ports.metrics!, '/metrics')).body;
      assert.ok(metricValue(text, 'istio_requests_total', { reporter: 'waypoint', request_protocol: 'grpc', response_code: '503', grpc_response_status: '14' }) >= 1, 'the metric has the grpc status sent');
    } finally {
      s.destroy();
    }
  });

  for (const path of ['/echo.Echo/Chat', '/noretry.Echo/Chat']) {
    it(`carries a bidirectional gRPC stream: the reply to the first message comes before the client ends (${path})`, async () => {
      const apps = await grpcApps([mesh.ips.v1, mesh.ips.v2], (stream) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.on('data', (c: Buffer) => stream.write(c)); // echoes each message as it comes
        stream.on('end', () => stream.end());
      });
      const s = session(9090);
      try {
        const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
        req.on('error', () => undefined);
        const message = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);
        const first = new Promise<Buffer>((resolve) => req.once('data', resolve));
        req.write(message);
        const got = await Promise.race([first, sleep(3_000).then(() => 'hung' as const)]);
        assert.notEqual(got, 'hung', 'no reply to the first message while the request stays open');
        assert.deepEqual(got, message);
        const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once('trailers', resolve));
        req.resume();
        req.end();
        assert.equal((await trailers)['grpc-status'], '0');
      } finally {
        s.destroy();
        apps.close();
      }
    });
  }

  it('mirrors a gRPC call over HTTP/2, the copy with its body and a -shadow authority', async () => {
    const seen: { authority: string; body: string }[] = [];
    const apps = await grpcApps([mesh.ips.v1, mesh.ips.v2], (stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    }, (authority, body) => seen.push({ authority, body }));
    const s = session(9090);
    try {
      const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 5]), Buffer.from('hello')]);
      const r = await call(s, { ':method': 'POST', ':path': '/mirror.Echo/Say', 'content-type': 'application/grpc', te: 'trailers' }, message);
      assert.equal(r.trailers['grpc-status'], '0');
      await until('the mirrored copy at an app', () => seen.some((x) => x.authority.includes('-shadow')));
      const copy = seen.find((x) => x.authority.includes('-shadow'))!;
      assert.equal(copy.body, message.toString('latin1'));
    } finally {
      s.destroy();
      apps.close();
    }
  });

  it('holds a fast HTTP/2 upstream back while the HTTP/2 client does not read (flow control end to end)', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    const apps = await grpcApps([mesh.ips.v1, mesh.ips.v2], (stream) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.resume();
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!stream.write(chunk)) return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
    });
    const s = session(9090);
    try {
      const req = s.request({ ':method': 'POST', ':path': '/echo.Echo/Download', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('error', () => undefined);
      req.end(Buffer.from([0, 0, 0, 0, 0]));
      req.pause();
      await sleep(1_500);
      assert.ok(written < 16 * 1024 * 1024, `the app wrote ${written} bytes to a client that read none`);
      let got = 0;
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once('trailers', resolve));
      req.on('data', (c: Buffer) => (got += c.length));
      req.resume();
      const finished = await Promise.race([trailers.then((t) => t['grpc-status']), sleep(10_000).then(() => `hung after ${got} of ${total} bytes (app wrote ${written})`)]);
      assert.equal(finished, '0');
      assert.equal(got, total);
    } finally {
      s.destroy();
      apps.close();
    }
  });

  it('refuses HTTP/2 requests with connection-specific or uppercase header names (RFC 9113 §8.2), the app seeing none', async () => {
    const bad: readonly (readonly [string, string])[] = [['connection', 'keep-alive'], ['te', 'gzip'], ['transfer-encoding', 'chunked'], ['upgrade', 'h2c'], ['keep-alive', '5'], ['X-Upper', '1']];
    const socket = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });
    const reader = new FrameReader();
    const resets = new Map<number, number>();
    const answered = new Set<number>();
    socket.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) {
        if (f.type === FrameType.RstStream) resets.set(f.streamId, f.payload.readUInt32BE(0));
        if (f.type === FrameType.Headers) answered.add(f.streamId);
        if (f.type === FrameType.Settings && !(f.flags & FrameFlag.Ack)) socket.write(settingsFrame([], true));
      }
    });
    socket.on('error', () => undefined);
    try {
      socket.write(Buffer.concat([clientPreface, settingsFrame()]));
      const base = (path: string): [string, string][] => [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'echo.demo.svc.cluster.local']];
      for (const [i, h] of bad.entries()) socket.write(headersFrame(1 + 2 * i, headerBlock([...base(`/bad-header/${i}`), h]), { endHeaders: true, endStream: true }));
      const good = 1 + 2 * bad.length;
      socket.write(headersFrame(good, headerBlock([...base('/good-header'), ['te', 'trailers']]), { endHeaders: true, endStream: true }));
      await until('an answer to every stream', () => bad.every((_, i) => resets.has(1 + 2 * i) || answered.has(1 + 2 * i)) && answered.has(good));
      for (const [i, h] of bad.entries()) assert.equal(resets.get(1 + 2 * i), 1, `${h[0]}: ${h[1]} is reset with PROTOCOL_ERROR`);
      assert.ok(!scene.echoes.some((e) => e.requests.some((q) => q.path.startsWith('/bad-header'))), 'no malformed request reached the app');
    } finally {
      socket.destroy();
    }
  });

  for (const when of ['after', 'before'] as const) {
    it(`resets the client's stream when the gRPC upstream resets mid-response (${when} the request's end)`, async () => {
      const path = `/echo.Echo/Reset-${when}`;
      const apps = await grpcApps([mesh.ips.v1, mesh.ips.v2], (stream) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
        stream.write(Buffer.from([0, 0, 0, 0, 2, 0x08]));
        const reset = (): void => void setTimeout(() => stream.destroy(new Error('app crashed')), 50);
        if (when === 'after') stream.on('end', reset).resume();
        else reset();
      });
      const s = session(9090);
      try {
        const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
        const finished = new Promise<string>((resolve) => {
          req.on('end', () => resolve('end'));
          req.on('error', () => resolve('error'));
          req.resume();
        });
        if (when === 'after') req.end(Buffer.from([0, 0, 0, 0, 0]));
        else req.write(Buffer.from([0, 0, 0, 0, 0]));
        const r = await Promise.race([finished, sleep(3_000).then(() => 'hung')]);
        assert.equal(r, 'error', 'the client saw its stream reset');
        await until('the access log line', () => logged(path).length === 1);
      } finally {
        s.destroy();
        apps.close();
      }
    });
  }
});
