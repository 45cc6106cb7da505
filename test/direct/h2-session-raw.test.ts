// The lean HTTP/2 server (shared/h2/H2Session) against hand-made frames (test/support/h2-frames.ts)
// over mutual TLS: the sequences a well-behaved peer may send but Node's and python's clients do
// not produce on demand — frames racing a RST_STREAM, a stream answered and closed early.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { H2Stream } from '../../shared/h2/h2-stream.js';
import { connectBlock, dataFrame, encodeFrame, FrameFlag, FrameType, H2Error, headerBlock, headersFrame } from '../support/h2-frames.js';
import { startLeanServer, until, type LeanServer } from '../support/h2-pair.js';
import { createTestMesh, type TestMesh } from '../support/mesh.js';
import { RawH2Client } from '../support/raw-h2-client.js';

let mesh: TestMesh;
let server: LeanServer;
const clients: RawH2Client[] = [];
/** What the lean server does with each new stream, by its :authority. */
const behaviours = new Map<string, (s: H2Stream) => void>();

before(async () => {
  mesh = await createTestMesh();
  server = await startLeanServer(mesh, {}, (stream, headers) => {
    stream.on('error', () => undefined);
    const act = behaviours.get(String(headers[':authority']));
    if (act) return act(stream);
    stream.respond({ ':status': 200 });
    stream.on('data', (c: Buffer) => stream.write(c));
    stream.on('end', () => stream.end());
  });
});
after(async () => {
  for (const c of clients) c.socket.destroy();
  await server.close();
});

async function client(): Promise<RawH2Client> {
  const c = await RawH2Client.open({ port: server.port, keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem, caPem: mesh.ca.rootsPem });
  clients.push(c);
  assert.ok(await until(() => c.serverSettings > 0), 'the server SETTINGS');
  return c;
}

describe('a lean server and frames that race its RST_STREAM', () => {
  it('ignores DATA, trailers and WINDOW_UPDATE a client sent on a stream the server had reset, and serves the next stream', async () => {
    behaviours.set('reset:1', (s) => s.close(H2Error.Cancel));
    const c = await client();
    c.write(headersFrame(1, connectBlock('reset:1'), { endHeaders: true }));
    assert.ok(await until(() => c.resets.has(1)), 'the server reset stream 1');
    assert.equal(c.resets.get(1), H2Error.Cancel);
    // What the client had in flight before it saw the reset.
    c.write(Buffer.concat([
      dataFrame(1, Buffer.from('late data')),
      encodeFrame(FrameType.WindowUpdate, 0, 1, Buffer.from([0, 0, 1, 0])),
      headersFrame(1, headerBlock([['x-trailer', 'late']]), { endHeaders: true, endStream: true }),
      headersFrame(3, connectBlock('echo:3'), { endHeaders: true }),
      dataFrame(3, Buffer.from('still here'), true),
    ]));
    assert.ok(await until(() => c.endedStreams.has(3) || c.goaways.length > 0 || c.closed), 'stream 3 answered');
    assert.deepEqual(c.goaways, [], 'no GOAWAY');
    assert.equal(c.statuses.get(3), 200);
    assert.equal(c.dataBytes.get(3), 'still here'.length);
  });

  it('ignores the request body and trailers of a stream it answered with END_STREAM before the request ended', async () => {
    behaviours.set('early:1', (s) => s.respond({ ':status': 503 }, { endStream: true }));
    const c = await client();
    c.write(headersFrame(1, connectBlock('early:1'), { endHeaders: true }));
    assert.ok(await until(() => c.statuses.get(1) === 503), 'the early answer');
    c.write(Buffer.concat([
      dataFrame(1, Buffer.alloc(1000)),
      headersFrame(1, headerBlock([['x-trailer', 'late']]), { endHeaders: true, endStream: true }),
      headersFrame(3, connectBlock('echo:3'), { endHeaders: true }),
      dataFrame(3, Buffer.from('ok'), true),
    ]));
    assert.ok(await until(() => c.endedStreams.has(3) || c.goaways.length > 0 || c.closed), 'stream 3 answered');
    assert.deepEqual(c.goaways, []);
    assert.equal(c.statuses.get(3), 200);
  });

  it('still treats HEADERS reusing a closed stream id of the wrong parity as a connection error', async () => {
    const c = await client();
    c.write(headersFrame(2, connectBlock('x:2'), { endHeaders: true }));
    assert.ok(await until(() => c.goaways.length > 0), 'GOAWAY');
    assert.equal(c.goaways[0]!.errorCode, H2Error.ProtocolError);
  });

  it('accepts HEADERS with the PRIORITY flag and ignores PRIORITY frames on any stream but 0', async () => {
    const c = await client();
    const priority = Buffer.from([0, 0, 0, 0, 15]);
    c.write(Buffer.concat([
      encodeFrame(0x2 /* PRIORITY */, 0, 7, priority),
      encodeFrame(FrameType.Headers, FrameFlag.EndHeaders | 0x20 /* PRIORITY */, 1, Buffer.concat([priority, connectBlock('echo:1')])),
      dataFrame(1, Buffer.from('p'), true),
    ]));
    assert.ok(await until(() => c.endedStreams.has(1) || c.goaways.length > 0));
    assert.deepEqual(c.goaways, []);
    assert.equal(c.dataBytes.get(1), 1);
  });
});

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function memory(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('a lean server and malformed requests (RFC 9113 §8.1.1)', () => {
  it('resets a CONNECT without :authority, or a request without :method, with PROTOCOL_ERROR and keeps the session', async () => {
    const c = await client();
    c.write(Buffer.concat([
      headersFrame(1, headerBlock([[':method', 'CONNECT']]), { endHeaders: true }),
      headersFrame(3, headerBlock([[':authority', 'a:1']]), { endHeaders: true }),
      headersFrame(5, headerBlock([[':method', 'CONNECT'], [':authority', 'a:1'], [':path', '/']]), { endHeaders: true }),
      headersFrame(7, connectBlock('echo:7'), { endHeaders: true }),
      dataFrame(7, Buffer.from('fine'), true),
    ]));
    assert.ok(await until(() => c.endedStreams.has(7) || c.goaways.length > 0), 'stream 7 answered');
    assert.deepEqual([...c.resets], [[1, H2Error.ProtocolError], [3, H2Error.ProtocolError], [5, H2Error.ProtocolError]]);
    assert.deepEqual(c.goaways, []);
    assert.deepEqual([...c.statuses], [[7, 200]], 'only the well-formed stream reached the application');
  });
});

describe('a lean server and trailers', () => {
  it('ends a stream on trailers, and resets one whose trailers carry a pseudo-header (RFC 9113 §8.1)', async () => {
    const c = await client();
    c.write(Buffer.concat([
      headersFrame(1, connectBlock('echo:1'), { endHeaders: true }),
      dataFrame(1, Buffer.from('body')),
      headersFrame(1, headerBlock([['x-checksum', 'abc']]), { endHeaders: true, endStream: true }),
      headersFrame(3, connectBlock('echo:3'), { endHeaders: true }),
      dataFrame(3, Buffer.from('body')),
      headersFrame(3, headerBlock([[':path', '/sneaky']]), { endHeaders: true, endStream: true }),
    ]));
    assert.ok(await until(() => c.endedStreams.has(1) && c.resets.has(3)), 'stream 1 ended, stream 3 reset');
    assert.equal(c.dataBytes.get(1), 4);
    assert.equal(c.resets.get(3), H2Error.ProtocolError);
    assert.deepEqual(c.goaways, []);
  });
});

describe('a lean server holding data for a paused consumer', () => {
  it('holds a flood of 1-byte DATA frames in memory close to their byte count, not one Buffer (and socket chunk) per frame', async () => {
    let paused: H2Stream | undefined;
    behaviours.set('pause:1', (s) => {
      s.respond({ ':status': 200 });
      s.pause();
      paused = s;
    });
    const c = await client();
    c.write(headersFrame(1, connectBlock('pause:1'), { endHeaders: true }));
    assert.ok(await until(() => paused !== undefined));
    const session = server.sessions[server.sessions.length - 1]!.session;
    const frames = 1_000_000;
    const one = dataFrame(1, Buffer.from([7]));
    const wire = Buffer.alloc(one.length * frames);
    for (let i = 0; i < frames; i++) one.copy(wire, i * one.length);
    const before = memory();
    for (let at = 0; at < wire.length; at += 64 * 1024) {
      if (!c.write(wire.subarray(at, at + 64 * 1024))) await c.drain();
    }
    assert.ok(await until(() => session['heldBytes'] === frames, 20_000), `held ${session['heldBytes']}`);
    const grown = memory() - before;
    assert.ok(grown < 16 * 1024 * 1024, `holding ${frames} bytes grew memory by ${(grown / 1048576).toFixed(1)} MiB`);
    const got: Buffer[] = [];
    paused!.on('data', (b: Buffer) => got.push(b));
    paused!.resume();
    assert.ok(await until(() => got.reduce((n, b) => n + b.length, 0) === frames), 'everything delivered after resume');
    assert.ok(got.every((b) => b.every((x) => x === 7)));
    assert.equal(session['heldBytes'], 0);
  });
});

describe('a lean server with windows smaller than the 65,535-byte default', () => {
  it('accepts the 65,535 bytes per stream a client may send before it has our SETTINGS (RFC 9113 §6.9.2), then enforces the small window', async () => {
    const small = await startLeanServer(mesh, { connectionWindowBytes: 16_384, settings: { initialWindowSize: 16_384 } }, (stream, headers) => {
      stream.on('error', () => undefined);
      stream.respond({ ':status': 200 });
      if (headers[':authority'] === 'unread:3') return; // nobody reads: no window comes back
      let n = 0;
      stream.on('data', (c: Buffer) => (n += c.length));
      stream.on('end', () => stream.end(String(n)));
    });
    try {
      const c = await RawH2Client.open({ port: small.port, keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem, caPem: mesh.ca.rootsPem });
      clients.push(c);
      // Sent at once after the preface, before the server's SETTINGS can have arrived: the default windows apply.
      const early = Buffer.alloc(16_383);
      c.write(Buffer.concat([
        headersFrame(1, connectBlock('w:1'), { endHeaders: true }),
        dataFrame(1, early), dataFrame(1, early), dataFrame(1, early), dataFrame(1, early), dataFrame(1, Buffer.alloc(3), true),
      ]));
      assert.ok(await until(() => c.endedStreams.has(1) || c.resets.has(1) || c.goaways.length > 0), 'stream 1 ended');
      assert.deepEqual({ resets: [...c.resets], goaways: c.goaways }, { resets: [], goaways: [] });
      assert.equal(c.dataBytes.get(1), String(65_535).length);
      // Once the client has acknowledged our SETTINGS, the 16 KiB stream window holds.
      assert.ok(await until(() => c.settingsAcks > 0 && c.serverSettings > 0));
      await new Promise((r) => setTimeout(r, 50));
      c.write(Buffer.concat([headersFrame(3, connectBlock('unread:3'), { endHeaders: true }), dataFrame(3, Buffer.alloc(16_384)), dataFrame(3, Buffer.alloc(1))]));
      assert.ok(await until(() => c.resets.has(3) || c.goaways.length > 0), 'the overflow was refused');
      assert.equal(c.resets.get(3) ?? c.goaways[0]?.errorCode, H2Error.FlowControlError);
    } finally {
      await small.close();
    }
  });
});

describe('a lean server whose paused streams hold more than its memory bound', () => {
  it('resets the stream whose data passes the bound with ENHANCE_YOUR_CALM; the session and the other stream go on', async () => {
    const streams: H2Stream[] = [];
    const bounded = await startLeanServer(mesh, { maxHeldBytes: 100_000 }, (stream) => {
      stream.on('error', () => undefined);
      stream.respond({ ':status': 200 });
      stream.pause();
      streams.push(stream);
    });
    try {
      const c = await RawH2Client.open({ port: bounded.port, keyPem: mesh.clientCert.keyPem, certPem: mesh.clientCert.chainPem, caPem: mesh.ca.rootsPem });
      clients.push(c);
      assert.ok(await until(() => c.settingsAcks > 0));
      c.write(Buffer.concat([headersFrame(1, connectBlock('a:1'), { endHeaders: true }), headersFrame(3, connectBlock('a:3'), { endHeaders: true })]));
      assert.ok(await until(() => streams.length === 2));
      c.write(Buffer.concat([dataFrame(1, Buffer.alloc(16_000)), dataFrame(3, Buffer.alloc(16_000))]));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(c.resets.size, 0, 'under the bound nothing happens');
      // Stream 1 passes the bound (32 KB held, then 16 KB at a time on stream 1): it alone is reset.
      for (let i = 0; i < 6; i++) c.write(dataFrame(1, Buffer.alloc(16_000)));
      assert.ok(await until(() => c.resets.size > 0), 'a RST_STREAM');
      assert.deepEqual([...c.resets], [[1, H2Error.EnhanceYourCalm]], 'stream 1 reset with ENHANCE_YOUR_CALM');
      assert.equal(c.goaways.length, 0, 'no GOAWAY');
      const session = bounded.sessions[0]!.session;
      assert.equal(session.destroyed, false, 'the session goes on');
      assert.equal(streams[0]!.destroyed, true);
      assert.equal(streams[1]!.destroyed, false, 'stream 3 goes on');
      assert.equal(session['heldBytes'], 16_000, 'stream 1 holds nothing any more');
      let got = 0;
      streams[1]!.on('data', (d: Buffer) => { got += d.length; });
      streams[1]!.resume();
      assert.ok(await until(() => got === 16_000), 'stream 3 delivers what it held');
    } finally {
      await bounded.close();
    }
  });
});

