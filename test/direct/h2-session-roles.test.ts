// The lean HTTP/2 engine (shared/h2/H2Session) in one role at a time: a lean client against
// node:http2 (GOAWAY's last stream id, CONTINUATION it sends, lowercase names, a TCP reset), a
// lean server against node:http2 (implicit 200, CONTINUATION it decodes), and a lean client
// against a lean server, the ztunnel-to-ztunnel path.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { FrameType, H2Code } from '../../shared/h2/frames.js';
import { H2Session } from '../../shared/h2/h2-session.js';
import type { H2Stream } from '../../shared/h2/h2-stream.js';
import { drain, leanClientPair, leanOptions, leanServerPair, pump, startLeanServer, until, type H2Pair, type LeanServer } from '../support/h2-pair.js';
import { createTestMesh, type TestMesh } from '../support/mesh.js';
import { within } from '../support/within.js';

const MiB = 1024 * 1024;
const KiB = 1024;
let mesh: TestMesh;
before(async () => {
  mesh = await createTestMesh();
});

async function closed(stream: H2Stream | http2.Http2Stream, what: string): Promise<void> {
  // Not events.once: it rejects on the 'error' a reset with an error code brings.
  if (!stream.destroyed) await within(new Promise((resolve) => stream.once('close', resolve)), 10_000, what);
  await new Promise((r) => setImmediate(r));
}

describe('a lean client against a node:http2 server, client-only behaviour', () => {
  const open: H2Pair[] = [];
  after(async () => {
    for (const p of open) await p.close();
  });

  it("refuses the streams past a Node goaway's last stream id with REFUSED_STREAM; the earlier ones keep working", async () => {
    const p = await leanClientPair(mesh);
    open.push(p);
    const [a, b, c] = await Promise.all([p.open(), p.open(), p.open()]);
    assert.deepEqual([a.lean.id, b.lean.id, c.lean.id], [1, 3, 5]);
    const goaway = once(p.lean, 'goaway');
    p.node.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    const [code, lastStreamId] = await within(goaway, 5000, 'goaway');
    assert.deepEqual([code, lastStreamId], [H2Code.NoError, 1]);
    await Promise.all([closed(b.lean, 'b'), closed(c.lean, 'c')]);
    assert.equal(b.lean.rstCode, H2Code.RefusedStream);
    assert.equal(c.lean.rstCode, H2Code.RefusedStream);
    assert.throws(() => p.lean.request({ ':method': 'CONNECT', ':authority': 'a:1' }), /closed/);
    const [sent, got] = await within(Promise.all([pump(a.lean, MiB), drain(a.node)]), 10_000, 'the first stream');
    assert.equal(got.sha256, sent);
  });

  it('survives a TCP reset under a TLS socket nobody else listens to for errors: the session closes, the process does not crash', async () => {
    const server = http2.createSecureServer({ key: mesh.serverCert.keyPem, cert: mesh.serverCert.chainPem, ca: mesh.ca.rootsPem, requestCert: true });
    server.on('session', (sess) => sess.on('error', () => undefined));
    server.on('stream', (st) => {
      st.on('error', () => undefined);
      st.respond({ ':status': 200 });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    // A plain TCP relay in between, whose lean-facing socket can be reset without TLS in the way.
    const inner: net.Socket[] = [];
    const relay = net.createServer((a) => {
      const b = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
      a.on('error', () => undefined);
      b.on('error', () => undefined);
      a.pipe(b).pipe(a);
      inner.push(a, b);
    });
    relay.listen(0, '127.0.0.1');
    await once(relay, 'listening');
    try {
      const socket = tls.connect({ host: '127.0.0.1', port: (relay.address() as AddressInfo).port, key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      await within(once(socket, 'secureConnect'), 5000, 'TLS');
      const lean = new H2Session(socket, leanOptions('client'));
      await within(once(lean, 'remoteSettings'), 5000, 'SETTINGS');
      const stream = lean.request({ ':method': 'CONNECT', ':authority': 'a:1' });
      await within(once(stream, 'response'), 5000, 'response');
      const closes = { session: 0, stream: 0 };
      lean.on('close', () => closes.session++);
      stream.on('close', () => closes.stream++);
      stream.write(Buffer.alloc(100_000)); // in flight while the reset comes
      inner[0]!.resetAndDestroy();
      assert.ok(await until(() => closes.session === 1 && closes.stream === 1), `closes ${JSON.stringify(closes)}`);
      assert.equal(stream.rstCode, H2Code.Cancel);
    } finally {
      for (const s of inner) s.destroy();
      await new Promise((r) => relay.close(r));
      await new Promise((r) => server.close(r));
    }
  });

  it('sends request field names lowercase, as Node does (an uppercase name is malformed in HTTP/2)', async () => {
    const p = await leanClientPair(mesh);
    open.push(p);
    const s = await p.open({ 'X-Mixed-Case': 'v', Baggage: 'k=1' });
    assert.equal(s.requestHeaders['x-mixed-case'], 'v');
    assert.equal(s.requestHeaders['baggage'], 'k=1');
  });

  it('sends a request header block larger than the peer max frame size as HEADERS + CONTINUATION, decoded by Node', async () => {
    const p = await leanClientPair(mesh, { nodeSettings: { maxHeaderListSize: 256 * KiB } });
    open.push(p);
    const big = 'v'.repeat(40 * KiB);
    const s = await p.open({ 'x-big': big, 'x-after': 'tail' });
    assert.equal(s.requestHeaders['x-big'], big);
    assert.equal(s.requestHeaders['x-after'], 'tail');
  });
});

describe('node:http2 client against a lean server, server-only behaviour', () => {
  const open: H2Pair[] = [];
  after(async () => {
    for (const p of open) await p.close();
  });

  it("answers 200 implicitly when the application writes before respond(), as Node's server stream does", async () => {
    const p = await leanServerPair(mesh, { autoRespond: false });
    open.push(p);
    const request = (p.node as http2.ClientHttp2Session).request({ ':method': 'CONNECT', ':authority': 'a:1', 'x-pair': 'implicit' }, { endStream: false });
    request.on('error', () => undefined);
    const stream = await new Promise<H2Stream>((resolve) => p.lean.once('stream', resolve));
    stream.write(Buffer.from('hello'));
    stream.end();
    const [headers] = (await within(once(request, 'response'), 5000, 'the response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    assert.deepEqual((await within(drain(request), 5000, 'the body')).bytes, 5);
  });

  for (const maxFrameSize of [16_384, 1024 * 1024]) {
    it(`decodes a 40 KiB request header block from Node (lean max frame size ${maxFrameSize})`, async () => {
      const p = await leanServerPair(mesh, { lean: { settings: { maxFrameSize, maxHeaderListSize: 256 * KiB } } });
      open.push(p);
      const types: number[] = [];
      const original = p.lean.onFrame.bind(p.lean);
      p.lean.onFrame = (type, flags, streamId, payload) => {
        types.push(type);
        original(type, flags, streamId, payload);
      };
      const big = Array.from({ length: 40 }, (_, i) => `${i}`.padEnd(1024, 'x')).join('');
      const s = await p.open({ 'x-big': big, 'x-after': 'tail' });
      assert.equal(s.requestHeaders['x-big'], big);
      assert.equal(s.requestHeaders['x-after'], 'tail');
      const continuations = types.filter((t) => t === FrameType.Continuation).length;
      if (maxFrameSize === 16_384) assert.ok(continuations >= 2, `expected CONTINUATION frames, saw types ${types}`);
    });
  }
});

describe('a lean client against a lean server (the ztunnel-to-ztunnel path)', () => {
  let server: LeanServer;
  const serverStreams = new Map<string, H2Stream>();
  const clients: H2Session[] = [];
  before(async () => {
    server = await startLeanServer(mesh, {}, (stream, headers) => {
      stream.on('error', () => undefined);
      stream.respond({ ':status': 200 });
      serverStreams.set(String(headers['x-pair']), stream);
    });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await server.close();
  });

  async function connect(): Promise<{ lean: H2Session; open(): Promise<{ client: H2Stream; server: H2Stream }> }> {
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    socket.on('error', () => undefined);
    await within(once(socket, 'secureConnect'), 5000, 'TLS');
    const lean = new H2Session(socket, leanOptions('client'));
    lean.on('error', () => undefined);
    clients.push(lean);
    await within(once(lean, 'remoteSettings'), 5000, 'SETTINGS');
    let n = 0;
    return {
      lean,
      async open() {
        const key = `${clients.length}-${++n}`;
        const client = lean.request({ ':method': 'CONNECT', ':authority': '10.0.0.9:80', 'x-pair': key });
        client.on('error', () => undefined);
        await within(once(client, 'response'), 5000, 'response');
        assert.ok(await until(() => serverStreams.has(key)));
        return { client, server: serverStreams.get(key)! };
      },
    };
  }

  it('carries 32 MiB each way byte-exact with 1 MiB frames and 4 MiB windows', async () => {
    const c = await connect();
    const s = await c.open();
    const [a, b, d, e] = await within(Promise.all([pump(s.client, 32 * MiB, 256 * KiB), drain(s.server), pump(s.server, 32 * MiB, 256 * KiB), drain(s.client)]), 60_000, '32 MiB each way');
    assert.deepEqual(b, { bytes: 32 * MiB, sha256: a });
    assert.deepEqual(e, { bytes: 32 * MiB, sha256: d });
    assert.ok(await until(() => c.lean.streamCount === 0 && server.sessions.every(({ session }) => session.streamCount === 0)));
  });

  it('carries 100 concurrent streams of 256 KiB each way', async () => {
    const c = await connect();
    const pairs = await Promise.all(Array.from({ length: 100 }, () => c.open()));
    const ok = await within(Promise.all(pairs.map(async (s) => {
      const [a, b, d, e] = await Promise.all([pump(s.client, 256 * KiB, 16 * KiB), drain(s.server), pump(s.server, 256 * KiB, 16 * KiB), drain(s.client)]);
      return b.sha256 === a && e.sha256 === d;
    })), 60_000, '100 streams');
    assert.equal(ok.filter(Boolean).length, 100);
  });

  it('holds a paused server consumer to the 4 MiB stream window, and everything arrives after resume', async () => {
    const c = await connect();
    const s = await c.open();
    s.server.pause();
    const sending = pump(s.client, 12 * MiB);
    assert.ok(await until(() => s.server.recvWindow === 0, 10_000), `window left ${s.server.recvWindow}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.client.sendWindow, 0, 'the sender stopped at the window');
    const got = drain(s.server);
    s.server.resume();
    const [sent, received] = await within(Promise.all([sending, got]), 30_000, 'the rest');
    assert.deepEqual(received, { bytes: 12 * MiB, sha256: sent });
  });

  it('delivers resets both ways with their codes', async () => {
    const c = await connect();
    const [a, b] = await Promise.all([c.open(), c.open()]);
    const closedWith = (st: H2Stream): Promise<number | undefined> => new Promise((resolve) => st.once('close', () => resolve(st.rstCode)));
    const [codeA, codeB] = [closedWith(a.server), closedWith(b.client)];
    a.client.close(H2Code.Cancel);
    b.server.close(H2Code.ConnectError);
    assert.deepEqual(await within(Promise.all([codeA, codeB]), 5000, 'resets'), [H2Code.Cancel, H2Code.ConnectError]);
  });
});

describe('a lean client against a peer that stops reading its socket', () => {
  it('stops taking writes (write() returns false) once the socket backs up, even with huge HTTP/2 windows', async () => {
    // A TLS server that opens huge windows, then never reads again: only TCP can push back.
    const deafSockets: tls.TLSSocket[] = [];
    const deaf = tls.createServer({ key: mesh.serverCert.keyPem, cert: mesh.serverCert.chainPem, ca: mesh.ca.rootsPem, requestCert: true, ALPNProtocols: ['h2'] }, (socket) => {
      deafSockets.push(socket);
      socket.on('error', () => undefined);
      const settings = Buffer.alloc(9 + 6);
      settings.writeUIntBE(6, 0, 3);
      settings[3] = FrameType.Settings;
      settings.writeUInt16BE(0x4, 9);
      settings.writeUInt32BE(0x7fff_ffff, 11);
      const update = Buffer.alloc(13);
      update.writeUIntBE(4, 0, 3);
      update[3] = FrameType.WindowUpdate;
      update.writeUInt32BE(0x7fff_ffff - 65_535, 9);
      socket.write(Buffer.concat([settings, update]));
      setTimeout(() => socket.pause(), 50);
    });
    deaf.listen(0, '127.0.0.1');
    await once(deaf, 'listening');
    const socket = tls.connect({ host: '127.0.0.1', port: (deaf.address() as AddressInfo).port, key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
    socket.on('error', () => undefined);
    try {
      await within(once(socket, 'secureConnect'), 5000, 'TLS');
      const lean = new H2Session(socket, leanOptions('client'));
      lean.on('error', () => undefined);
      await within(once(lean, 'remoteSettings'), 5000, 'SETTINGS');
      await new Promise((r) => setTimeout(r, 100));
      const stream = lean.request({ ':method': 'CONNECT', ':authority': 'a:1' });
      stream.on('error', () => undefined);
      const chunk = Buffer.alloc(64 * KiB, 1);
      let written = 0;
      for (let i = 0; i < 2048; i++) {
        written += chunk.length;
        if (!stream.write(chunk)) break;
        if (i % 16 === 15) await new Promise((r) => setImmediate(r)); // let the session write to the socket
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(written < 16 * MiB, `write() kept returning true for ${written / MiB} MiB into a socket nobody reads`);
      assert.ok(socket.writableLength < 4 * MiB, `${(socket.writableLength / MiB).toFixed(1)} MiB sit in the socket's buffer`);
      lean.destroy();
    } finally {
      socket.destroy();
      for (const s of deafSockets) s.destroy(); // paused, it would never notice the close
      await new Promise((r) => deaf.close(r));
    }
  });
});

describe('a lean server whose paused consumers hold more than its memory bound', () => {
  it('resets only the streams that pass it; the connection window keeps coming back and the others get every byte', async () => {
    // Node's client keeps to our windows: 8 streams x 96 KiB stream windows (768 KiB), a 128 KiB
    // connection window, a 512 KiB bound for held bytes.
    const p = await leanServerPair(mesh, { lean: { connectionWindowBytes: 128 * KiB, maxHeldBytes: 512 * KiB, settings: { initialWindowSize: 96 * KiB } } });
    try {
      const pairs = await Promise.all(Array.from({ length: 8 }, () => p.open()));
      for (const { lean } of pairs) lean.pause();
      const sent = pairs.map(({ node }) => pump(node as http2.ClientHttp2Stream, 96 * KiB, 16 * KiB).catch(() => 'reset'));
      assert.ok(await until(() => pairs.filter(({ lean }) => lean.destroyed).length > 0), 'a stream passed the bound');
      await new Promise((r) => setTimeout(r, 200));
      const held = (p.lean as unknown as { heldBytes: number }).heldBytes;
      assert.equal(p.lean.destroyed, false, 'the session is still up');
      assert.ok(held <= 512 * KiB, `held ${held} bytes, within the bound`);
      const survivors = pairs.filter(({ lean }) => !lean.destroyed);
      assert.ok(survivors.length >= 5, `${survivors.length} streams kept (5 fit in the bound)`);
      for (const { node, lean } of pairs) if (lean.destroyed) assert.ok(await until(() => node.rstCode === H2Code.EnhanceYourCalm), 'the peer sees ENHANCE_YOUR_CALM');
      const received = survivors.map(({ lean }) => drain(lean));
      for (const { lean } of survivors) lean.resume();
      const got = await Promise.all(received);
      const hashes = await Promise.all(sent);
      let i = 0;
      for (let k = 0; k < pairs.length; k++) {
        if (pairs[k]!.lean.destroyed && !survivors.includes(pairs[k]!)) continue;
        assert.equal(got[i]!.bytes, 96 * KiB, `kept stream ${k} got everything`);
        assert.equal(got[i]!.sha256, hashes[k], `kept stream ${k} got the same bytes`);
        i++;
      }
    } finally {
      await p.close();
    }
  });
});
