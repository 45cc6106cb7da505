import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PassThrough } from 'node:stream';
import { BodyStream } from '../shared/http/h1-body-stream.js';
import { sendRelayed } from './h1-response.js';

/** A stream that records every write, and a response body fed like the upstream connection does (not paused). */
function setup(declaredLength?: number): { out: PassThrough; writes: Buffer[]; body: BodyStream } {
  const out = new PassThrough();
  const writes: Buffer[] = [];
  const write = out.write.bind(out);
  out.write = ((c: Buffer, ...rest: never[]) => {
    writes.push(Buffer.from(c));
    return write(c, ...rest);
  }) as typeof out.write;
  out.resume();
  const body = new BodyStream({ pauseBody: () => undefined, resumeBody: () => undefined }, declaredLength);
  return { out, writes, body };
}

const head = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n';

describe('sendRelayed', () => {
  it('writes a body that is already complete together with the head, in one write, synchronously', () => {
    const { out, writes, body } = setup(5);
    body.feed(Buffer.from('hello'));
    body.finish();
    const r = sendRelayed(out, head, body, { chunked: false, bodiless: false, length: 5, trailers: () => undefined });
    assert.ok(!(r instanceof Promise));
    assert.deepEqual(r, { bytes: 5, end: 'ended' });
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.toString('latin1'), `${head}hello`);
  });

  it('reports a complete body shorter than the length written as short, writing nothing', () => {
    const { out, writes, body } = setup();
    body.feed(Buffer.from('hi'));
    body.finish();
    const r = sendRelayed(out, head, body, { chunked: false, bodiless: false, length: 5, trailers: () => undefined });
    assert.deepEqual(r, { bytes: 0, end: 'short' });
    assert.equal(writes.length, 0, 'the caller resets the tunnel: no head that promises 5 bytes');
  });

  it('reports a body longer than the length written as overrun and destroys it, writing nothing', () => {
    const { out, writes, body } = setup();
    body.feed(Buffer.from('hello world'));
    body.finish();
    const r = sendRelayed(out, head, body, { chunked: false, bodiless: false, length: 5, trailers: () => undefined });
    assert.deepEqual(r, { bytes: 0, end: 'overrun' });
    assert.equal(writes.length, 0);
    assert.ok(body.destroyed);
  });

  it('frames a complete body of unknown length as chunks and ends it with the trailers', () => {
    const { out, writes, body } = setup();
    body.feed(Buffer.from('abc'));
    body.finish();
    const chunkedHead = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n';
    const r = sendRelayed(out, chunkedHead, body, { chunked: true, bodiless: false, trailers: () => [['grpc-status', '0']] });
    assert.deepEqual(r, { bytes: 3, end: 'ended' });
    assert.equal(Buffer.concat(writes).toString('latin1'), `${chunkedHead}3\r\nabc\r\n0\r\ngrpc-status: 0\r\n\r\n`);
  });

  it('pumps a body that is still arriving and resolves with every byte once it ends', async () => {
    const { out, writes, body } = setup(5);
    body.feed(Buffer.from('he'));
    const r = sendRelayed(out, head, body, { chunked: false, bodiless: false, length: 5, trailers: () => undefined });
    assert.ok(r instanceof Promise);
    body.feed(Buffer.from('llo'));
    body.finish();
    assert.deepEqual(await r, { bytes: 5, end: 'ended' });
    assert.equal(Buffer.concat(writes).toString('latin1'), `${head}hello`);
  });

  it('writes only the head of a bodiless response (HEAD, 204, 304)', () => {
    const { out, writes, body } = setup(0);
    body.finish();
    const r = sendRelayed(out, head, body, { chunked: false, bodiless: true, length: 5, trailers: () => undefined });
    assert.deepEqual(r, { bytes: 0, end: 'ended' });
    assert.equal(Buffer.concat(writes).toString('latin1'), head);
  });
});
