import assert from 'node:assert/strict';
import type { ClientHttp2Stream } from 'node:http2';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { BodyStream } from '../shared/http/h1-body-stream.js';
import { ClientGone } from './client-gone.js';
import type { AttemptResult } from './forwarder.js';
import { H1UpstreamConnection, type ConnectionOwner } from './h1-upstream-connection.js';
import { FakeTunnel } from '../test/support/fake-tunnel.js';

function setup(): { tunnel: FakeTunnel; conn: H1UpstreamConnection; owner: { released: number; closed: number } } {
  const tunnel = new FakeTunnel();
  const owner = { released: 0, closed: 0 };
  const o: ConnectionOwner = { release: () => owner.released++, closed: () => owner.closed++ };
  return { tunnel, conn: new H1UpstreamConnection(tunnel as unknown as ClientHttp2Stream, o), owner };
}

const within = <T>(p: Promise<T>, ms = 1_000): Promise<T | 'pending'> => Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('H1UpstreamConnection', () => {
  it('ends an attempt as a reset when its connection is closed before the response head (the owner closing it)', async () => {
    const { conn } = setup();
    const pending = conn.exchange({ method: 'GET', path: '/', headers: [['host', 'a']] }, Buffer.alloc(0), undefined, new ClientGone());
    conn.destroy();
    const r = await within(pending);
    assert.notEqual(r, 'pending', 'the attempt must not wait forever');
    assert.deepEqual((r as AttemptResult).outcome, { kind: 'reset' });
  });

  it('answers an exchange on a connection that is already closed with a reset at once', async () => {
    const { conn } = setup();
    conn.destroy();
    await tick(); // its stream's 'close' has come and gone
    const r = await within(conn.exchange({ method: 'GET', path: '/', headers: [['host', 'a']] }, Buffer.alloc(0), undefined, new ClientGone()));
    assert.deepEqual(r !== 'pending' && r.outcome, { kind: 'reset' });
  });

  it('closes the connection when the request body is torn down before its end, even after the response', async () => {
    const { tunnel, conn, owner } = setup();
    const body = new PassThrough();
    const r = await (async () => {
      const p = conn.exchange({ method: 'POST', path: '/', headers: [['host', 'a'], ['content-length', '100']] }, body, undefined, new ClientGone());
      body.write('abc');
      tunnel.push('HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\n\r\n');
      return p;
    })();
    assert.equal(r.outcome.kind, 'response');
    r.response!.body.resume();
    await tick();
    assert.equal(owner.closed, 0);
    body.destroy(); // the client went away: the rest of the request never comes
    await tick();
    assert.equal(owner.closed, 1, 'a connection mid-request is not left open and unusable');
    assert.equal(owner.released, 0);
  });

  it('fails at once for a request body that was torn down before the attempt', async () => {
    const { conn, owner } = setup();
    const body = new PassThrough();
    body.destroy();
    const r = await within(conn.exchange({ method: 'POST', path: '/', headers: [['host', 'a']] }, body, undefined, new ClientGone()));
    assert.deepEqual(r !== 'pending' && r.outcome, { kind: 'reset' });
    assert.equal(owner.closed, 1);
  });

  it('writes one Content-Length and no field whose value carries CR or LF (request splitting)', async () => {
    const { tunnel, conn } = setup();
    const body = new PassThrough();
    const p = conn.exchange({ method: 'POST', path: '/', headers: [['host', 'a'], ['content-length', '3'], ['x-note', 'a\r\nx-smuggled: 1'], ['content-length', '3']] }, body, undefined, new ClientGone());
    body.end('abc');
    await tick();
    const wire = tunnel.text();
    assert.equal(wire.match(/\r\ncontent-length:/g)?.length, 1, wire);
    assert.doesNotMatch(wire, /x-smuggled/);
    assert.ok(wire.endsWith('\r\n\r\nabc'), JSON.stringify(wire));
    tunnel.push('HTTP/1.1 204 No Content\r\n\r\n');
    assert.equal((await p).outcome.kind, 'response');
  });

  it('fails an attempt (closing its connection) whose body outgrows or falls short of its Content-Length', async () => {
    for (const [length, wire] of [['2', 'abc'], ['5', 'abc']] as const) {
      const { tunnel, conn } = setup();
      const body = new PassThrough();
      const p = conn.exchange({ method: 'POST', path: '/', headers: [['host', 'a'], ['content-length', length]] }, body, undefined, new ClientGone());
      body.end(wire);
      const r = await within(p);
      assert.deepEqual(r !== 'pending' && r.outcome, { kind: 'reset' }, `length ${length}, body ${wire}`);
      // Too long: not a byte beyond the length; too short: the connection goes, so no next request is misread.
      if (length === '2') assert.doesNotMatch(tunnel.text(), /abc/);
      assert.equal(conn.reusable, false);
    }
    const { conn } = setup();
    const empty = new BodyStream({ pauseBody: () => undefined, resumeBody: () => undefined }, 0);
    const r = await within(conn.exchange({ method: 'POST', path: '/', headers: [['host', 'a'], ['content-length', '5']] }, empty, undefined, new ClientGone()));
    assert.deepEqual(r !== 'pending' && r.outcome, { kind: 'reset' }, 'a known-empty body under a length of 5');
  });

  it('starts a body that arrives explicitly paused, as the waypoint’s request bodies do', async () => {
    const { tunnel, conn } = setup();
    const body = new PassThrough();
    body.pause();
    body.end('hello');
    void conn.exchange({ method: 'PUT', path: '/', headers: [['host', 'a']] }, body, undefined, new ClientGone());
    await tick();
    assert.match(tunnel.text(), /transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/);
  });

  it('survives an upstream that breaks off a response body that is only being drained (no uncaught error)', async () => {
    const { tunnel, conn, owner } = setup();
    const p = conn.exchange({ method: 'GET', path: '/', headers: [['host', 'a']] }, Buffer.alloc(0), undefined, new ClientGone());
    tunnel.push('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 100\r\n\r\npartial');
    const r = await p;
    r.response!.body.resume(); // the forwarder drains a response it will retry
    await tick();
    tunnel.push(null);
    await new Promise((res) => setTimeout(res, 20));
    assert.equal(owner.closed, 1);
  });

  it('goes back to its owner only after a clean keep-alive exchange, and never after extra bytes', async () => {
    const { tunnel, conn, owner } = setup();
    const p = conn.exchange({ method: 'GET', path: '/', headers: [['host', 'a']] }, Buffer.alloc(0), undefined, new ClientGone());
    tunnel.push('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    (await p).response!.body.resume();
    await tick();
    assert.deepEqual([owner.released, owner.closed], [1, 0]);
    tunnel.push('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged');
    await tick();
    assert.deepEqual([owner.released, owner.closed], [1, 1], 'bytes nobody asked for close it');
    assert.equal(conn.reusable, false);
  });
  it('closes, never pools, a connection whose empty response (HEAD, 204, Content-Length: 0) comes with a forged one in the same read', async () => {
    for (const [method, head] of [['HEAD', 'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n'], ['GET', 'HTTP/1.1 204 No Content\r\n\r\n'], ['GET', 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n']] as const) {
      const { tunnel, conn, owner } = setup();
      const p = conn.exchange({ method, path: '/', headers: [['host', 'a']] }, Buffer.alloc(0), undefined, new ClientGone());
      tunnel.push(`${head}HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged`);
      const r = await p;
      assert.equal(r.outcome.kind, 'response', `${method} ${head}`);
      r.response!.body.resume();
      await tick();
      assert.deepEqual([owner.released, owner.closed], [0, 1], `${JSON.stringify(head)}: bytes nobody asked for close it`);
      assert.equal(conn.reusable, false);
    }
  });
});
