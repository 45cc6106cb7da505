// Malformed HTTP/2 requests on the HBONE server (15008), reliability cases 8, 9, 13 and 14:
// bad CONNECT authorities and methods get 400 on their stream while the session lives on;
// header floods and oversized header blocks get a stream reset or GOAWAY and a closed connection.
// Where nghttp2 refuses a request before our code sees it (RST_STREAM PROTOCOL_ERROR), the tests
// also check that no stream reached HboneServer.
import assert from 'node:assert/strict';
import http2, { type ClientHttp2Session } from 'node:http2';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { connectBlock, continuationFrame, dataFrame, encodeFrame, FrameType, H2Error, headerBlock, headersFrame, hpackIndexed, hpackLiteral, hpackLiteralIndexed } from '../support/h2-frames.js';
import { HboneHarness, SuiteOptions } from '../support/hbone-harness.js';
import { createTestMesh, eventually, type TestMesh } from '../support/mesh.js';
import type { RawH2Client } from '../support/raw-h2-client.js';
import { within } from '../support/within.js';

/** A hung await fails its suite instead of hanging the run. */
const suiteTimeoutMs = 30_000;

let mesh: TestMesh;
let h: HboneHarness;

before(async () => {
  mesh = await createTestMesh();
});
// Suites whose attacks leave nghttp2-terminated sessions (GOAWAY sent, socket never closed by
// Node 20) turn the server keepalive on: only a PING deadline finds those. The others run without
// it, so a passing flood test cannot be the keepalive closing a silent attacker.
const options = new SuiteOptions();
beforeEach(async () => {
  h = await HboneHarness.start(mesh, options.current);
});
afterEach(() => h.close());

/** Node's own client with the mesh client certificate, closed by the harness. */
async function nodeSession(): Promise<ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${h.port}`, {
    key: mesh.clientCert.keyPem,
    cert: mesh.clientCert.chainPem,
    ca: mesh.ca.rootsPem,
    minVersion: 'TLSv1.3',
    checkServerIdentity: () => undefined,
  });
  session.on('error', () => undefined);
  h.onCloseClients(() => session.destroy());
  await within(new Promise((resolve) => session.once('remoteSettings', resolve)), 5000, 'the server SETTINGS');
  return session;
}

interface StreamOutcome {
  readonly status: number | undefined;
  readonly rstCode: number | undefined;
  readonly body: string;
}

/** One request on `session` with `body` sent after the headers; resolves when the stream closes. */
function request(session: ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body = 'attack'): Promise<StreamOutcome> {
  return within(new Promise((resolve) => {
    const stream = session.request(headers, { endStream: false });
    let status: number | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (hs) => { status = Number(hs[':status']); });
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ status, rstCode: stream.rstCode, body: Buffer.concat(chunks).toString() }));
    stream.end(body);
  }), 5000, `the answer to ${String(headers[':method'])} ${String(headers[':authority']).slice(0, 40)}`);
}

/** The session is still usable: a CONNECT to the control echo on it answers 200 and echoes. */
async function assertSessionServes(session: ClientHttp2Session): Promise<void> {
  const outcome = await request(session, { ':method': 'CONNECT', ':authority': `127.0.0.1:${h.control.port}` }, 'same session');
  assert.deepEqual(outcome, { status: 200, rstCode: 0, body: 'same session' }, 'the same session still carries a CONNECT');
}

/** A stream our code answered 400 for `reason`, or one nghttp2 reset before our code saw it. */
function assertStreamRefused(outcome: StreamOutcome, reason: string, streamsBefore: number, what: string): void {
  if (outcome.status !== undefined) {
    assert.equal(outcome.status, 400, `${what}: 400`);
    assert.ok((h.hbone.stats.streamRejections.get(reason) ?? 0) > 0, `${what}: counted as ${reason}`);
  } else {
    assert.equal(outcome.rstCode, H2Error.ProtocolError, `${what}: reset with PROTOCOL_ERROR by nghttp2`);
    assert.equal(h.hbone.stats.streamsTotal, streamsBefore, `${what}: never reached HboneServer`);
  }
}

describe('HBONE server answers bad CONNECT authorities with 400 and keeps the session (case 8)', { timeout: suiteTimeoutMs }, () => {
  it('refuses each malformed authority on its own stream, never touching the backend', async () => {
    const session = await nodeSession();
    const victimPort = h.victim.port;
    const answered400 = ['abc', '1.2.3.4', '1.2.3.4:0', '1.2.3.4:70000', '[fe80::1%eth0]:80', 'a'.repeat(300), `127.0.0.1:0${victimPort}`, `127.1:${victimPort}`, `127.000.0.1:${victimPort}`, `localhost:${victimPort}`];
    for (const authority of answered400) {
      const outcome = await request(session, { ':method': 'CONNECT', ':authority': authority });
      assert.equal(outcome.status, 400, `${JSON.stringify(authority.slice(0, 40))} gets 400`);
    }
    assert.equal(h.hbone.stats.streamRejections.get('bad_authority'), answered400.length, 'each counted as bad_authority');
    // node:http2 validates :authority characters itself (RFC 3986 authority): these never reach our
    // code there; the lean engine passes them to the 400 above, and resets an empty one.
    for (const authority of [`127.0.0.1:${victimPort}/path`, `127.0.0.1:${victimPort}?q`, '']) {
      const streamsBefore = h.hbone.stats.streamsTotal;
      const outcome = await request(session, { ':method': 'CONNECT', ':authority': authority });
      assertStreamRefused(outcome, 'bad_authority', streamsBefore, JSON.stringify(authority));
    }
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    assert.equal(session.closed || session.destroyed, false, 'the session is still open');
    await assertSessionServes(session);
    await h.assertServing();
    await h.assertReleased();
  });
});

describe('HBONE server answers anything but plain CONNECT with 400 (case 9)', { timeout: suiteTimeoutMs }, () => {
  it('answers GET and POST with 400 method_not_connect and keeps the session', async () => {
    const session = await nodeSession();
    const get = await request(session, { ':method': 'GET', ':path': '/', ':authority': h.victimAuthority() }, '');
    const post = await request(session, { ':method': 'POST', ':path': '/', ':authority': h.victimAuthority() });
    assert.equal(get.status, 400, 'GET / gets 400');
    assert.equal(post.status, 400, 'POST / gets 400');
    assert.equal(h.hbone.stats.streamRejections.get('method_not_connect'), 2);
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    await assertSessionServes(session);
    await h.assertServing();
    await h.assertReleased();
  });

  it('refuses extended CONNECT (:protocol) and CONNECT with :path or :scheme on their stream only', async () => {
    const raw = await h.rawClient();
    const victim = h.victimAuthority();
    const cases: readonly { name: string; block: Buffer; reason: string }[] = [
      { name: 'extended CONNECT', block: headerBlock([[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'https'], [':path', '/'], [':authority', victim]]), reason: 'extended_connect' },
      { name: ':protocol without :path', block: headerBlock([[':method', 'CONNECT'], [':protocol', 'websocket'], [':authority', victim]]), reason: 'extended_connect' },
      { name: 'CONNECT with :path', block: headerBlock([[':method', 'CONNECT'], [':authority', victim], [':path', '/']]), reason: 'connect_with_path' },
      { name: 'CONNECT with :scheme', block: headerBlock([[':method', 'CONNECT'], [':authority', victim], [':scheme', 'https']]), reason: 'connect_with_path' },
    ];
    let streamId = 1;
    for (const c of cases) {
      const streamsBefore = h.hbone.stats.streamsTotal;
      raw.write(Buffer.concat([headersFrame(streamId, c.block), dataFrame(streamId, Buffer.from('attack'))]));
      const id = streamId;
      assert.ok(await eventually(() => raw.statuses.has(id) || raw.resets.has(id)), `${c.name}: answered`);
      assertStreamRefused({ status: raw.statuses.get(id), rstCode: raw.resets.get(id), body: '' }, c.reason, streamsBefore, c.name);
      streamId += 2;
    }
    assert.equal(raw.goaways.length, 0, 'no GOAWAY: the session lives on');
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    await assertRawSessionServes(raw, streamId);
    await h.assertServing();
    await h.assertReleased();
  });
});

/** A CONNECT to the control echo on the raw session answers 200 and echoes a DATA frame. */
async function assertRawSessionServes(raw: RawH2Client, streamId: number): Promise<void> {
  raw.write(Buffer.concat([headersFrame(streamId, connectBlock(`127.0.0.1:${h.control.port}`)), dataFrame(streamId, Buffer.from('same session'))]));
  assert.ok(await eventually(() => (raw.dataBytes.get(streamId) ?? 0) >= 12), 'the same session still carries a CONNECT');
  assert.equal(raw.statuses.get(streamId), 200);
}

describe('HBONE server cuts CONTINUATION floods (case 13)', { timeout: suiteTimeoutMs }, () => {
  const floods: readonly { name: string; frames: number; make: (i: number) => Buffer }[] = [
    { name: 'CONTINUATION frames of 4 KB header fields each', frames: 2000, make: (i) => continuationFrame(1, hpackLiteral(`x-pad-${i}`, 'a'.repeat(4000))) },
    { name: 'empty CONTINUATION frames', frames: 20_000, make: () => continuationFrame(1, Buffer.alloc(0)) },
  ];
  for (const f of floods) {
    it(`closes the connection on a HEADERS without END_HEADERS followed by endless ${f.name}`, async () => {
      const raw = await h.rawClient();
      raw.write(headersFrame(1, connectBlock(h.victimAuthority()), { endHeaders: false }));
      const sent = await raw.flood(f.frames, f.make);
      assert.equal(await raw.waitClosed(2000), true, 'the server closes the connection');
      assert.ok(sent < f.frames, `cut off after ${sent} of ${f.frames} frames`);
      assert.notEqual(raw.goaways[0]?.errorCode ?? -1, H2Error.NoError, 'any GOAWAY carries an error code');
      assert.equal(h.hbone.stats.streamsTotal, 0, 'the half-sent request never reached HboneServer');
      assert.equal(h.victim.received(), 0, 'the backend received nothing');
      await h.assertServing();
      await h.assertReleased();
    });
  }
});

/** Splits a header block into HEADERS + CONTINUATION frames of at most 16 KiB (the default max frame size). */
function fragmented(streamId: number, block: Buffer): Buffer {
  const frames = [headersFrame(streamId, block.subarray(0, 16384), { endHeaders: block.length <= 16384 })];
  for (let o = 16384; o < block.length; o += 16384) frames.push(continuationFrame(streamId, block.subarray(o, o + 16384), o + 16384 >= block.length));
  return Buffer.concat(frames);
}

describe('HBONE server refuses oversized header blocks (case 14)', { timeout: suiteTimeoutMs }, () => {
  options.useKeepalive();
  const many = headerBlock(Array.from({ length: 10_000 }, (_, i) => [`x-h${i}`, 'v'] as const));
  const bomb = Buffer.concat([hpackLiteralIndexed('x-bomb', 'b'.repeat(4000)), ...Array.from({ length: 100 }, () => hpackIndexed(62))]);
  const blocks: readonly { name: string; extra: () => Buffer }[] = [
    { name: 'one 1 MB header value', extra: () => hpackLiteral('x-big', 'a'.repeat(1 << 20)) },
    { name: '10,000 small headers', extra: () => many },
    { name: 'an HPACK bomb (one 4 KB entry referenced 100 times: 400 KB decoded)', extra: () => bomb },
  ];
  for (const b of blocks) {
    it(`resets the stream or closes the connection on ${b.name}`, async () => {
      // Sent right behind the preface, before our SETTINGS ACK: limits must hold from the first byte.
      const raw = await h.rawClient();
      raw.write(fragmented(1, Buffer.concat([connectBlock(h.victimAuthority()), b.extra()])));
      raw.write(dataFrame(1, Buffer.from('attack')));
      assert.ok(await eventually(() => raw.statuses.has(1) || raw.resets.has(1) || raw.goaways.length > 0 || raw.closed), 'the server reacts');
      const status = raw.statuses.get(1);
      if (status !== undefined || (raw.resets.has(1) && raw.goaways.length === 0)) {
        // Refused on its stream (431/400, or RST_STREAM): the session must carry the next CONNECT.
        if (status !== undefined) assert.ok(status >= 400 && status < 500, `refused with a 4xx, got ${status}`);
        await assertRawSessionServes(raw, 3);
      } else {
        assert.notEqual(raw.goaways[0]?.errorCode ?? -1, H2Error.NoError, 'any GOAWAY carries an error code');
        // RFC 9113 §5.4.1: after a GOAWAY for a connection error the endpoint MUST close the TCP connection.
        assert.equal(await raw.waitClosed(2000), true, 'the server closes the connection after its GOAWAY');
      }
      assert.equal(h.victim.received(), 0, 'the backend received nothing');
      await h.assertServing();
      await h.assertReleased();
    });
  }
});

describe('HBONE server closes connections after a connection error (RFC 9113 §5.4.1)', { timeout: suiteTimeoutMs }, () => {
  options.useKeepalive();
  const errors: readonly { name: string; frame: () => Buffer; code: number }[] = [
    { name: 'DATA on stream 0', frame: () => encodeFrame(FrameType.Data, 0, 0, Buffer.from('x')), code: H2Error.ProtocolError },
    { name: 'a PING with a 7-byte payload', frame: () => encodeFrame(FrameType.Ping, 0, 0, Buffer.alloc(7)), code: H2Error.FrameSizeError },
  ];
  for (const e of errors) {
    it(`sends GOAWAY and closes the TCP connection on ${e.name}`, async () => {
      const raw = await h.rawClient();
      assert.ok(await eventually(() => raw.settingsAcks > 0), 'fixture: the session is up');
      raw.write(e.frame());
      assert.ok(await eventually(() => raw.goaways.length > 0 || raw.closed, 2000), 'the server reacts');
      assert.equal(raw.goaways[0]?.errorCode, e.code, 'GOAWAY names the error');
      assert.equal(await raw.waitClosed(2000), true, 'the server closes the connection after its GOAWAY');
      await h.assertServing();
      await h.assertReleased();
    });
  }
});
