import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BodyFramer } from './h1-body-framer.js';
import { BodyStream } from './h1-body-stream.js';

function bodyOf(declaredLength?: number): { body: BodyStream; received: () => string } {
  const body = new BodyStream({ pauseBody: () => undefined, resumeBody: () => undefined }, declaredLength);
  const parts: Buffer[] = [];
  body.on('data', (c: Buffer) => parts.push(c));
  return { body, received: () => Buffer.concat(parts).toString('latin1') };
}

describe('BodyFramer', () => {
  it('takes exactly Content-Length bytes across pushes and hands back what follows', async () => {
    const { body, received } = bodyOf(11);
    const f = new BodyFramer({ kind: 'length', length: 11 }, body);
    assert.deepEqual(f.push(Buffer.from('hello')), { kind: 'more' });
    const step = f.push(Buffer.from(' worldGET / HTTP/1.1'));
    assert.equal(step.kind, 'done');
    assert.equal(step.kind === 'done' && step.rest.toString('latin1'), 'GET / HTTP/1.1');
    await new Promise((r) => setImmediate(r));
    assert.equal(received(), 'hello world');
  });

  it('decodes chunked data, keeps the trailers and the bytes after the last chunk', async () => {
    const { body, received } = bodyOf();
    const f = new BodyFramer({ kind: 'chunked' }, body);
    assert.deepEqual(f.push(Buffer.from('5\r\nhello\r\n')), { kind: 'more' });
    const step = f.push(Buffer.from('0\r\nx-sum: 1\r\n\r\nNEXT'));
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.deepEqual(step.trailers, [['x-sum', '1']]);
    assert.equal(step.rest.toString('latin1'), 'NEXT');
    await new Promise((r) => setImmediate(r));
    assert.equal(received(), 'hello');
  });

  it('reports broken chunk framing as an error', () => {
    const { body } = bodyOf();
    const f = new BodyFramer({ kind: 'chunked' }, body);
    assert.equal(f.push(Buffer.from('zz\r\nhello\r\n')).kind, 'error');
  });

  it('feeds everything of a close-delimited response and never ends it itself', async () => {
    const { body, received } = bodyOf();
    const f = new BodyFramer({ kind: 'close' }, body);
    assert.equal(f.untilClose, true);
    assert.deepEqual(f.push(Buffer.from('a')), { kind: 'more' });
    assert.deepEqual(f.push(Buffer.from('bc')), { kind: 'more' });
    await new Promise((r) => setImmediate(r));
    assert.equal(received(), 'abc');
  });
});
