import assert from 'node:assert/strict';
import { PassThrough, type Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { ReplayBody } from './replay-body.js';

const collect = (r: Readable): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.once('end', () => resolve(Buffer.concat(chunks).toString()));
    r.once('close', () => reject(new Error(`closed early after ${Buffer.concat(chunks).toString()}`)));
  });

describe('ReplayBody', () => {
  it('gives a body that arrived with its head as one buffer', async () => {
    const src = new PassThrough();
    src.end('all of it');
    const body = await ReplayBody.open(src, 1024);
    const b = body.attemptBody();
    assert.ok(Buffer.isBuffer(b));
    assert.equal(b.toString(), 'all of it');
    assert.equal(body.replayable, true);
  });

  it('streams a body still arriving to the attempt, and replays all of it to the next one', async () => {
    const src = new PassThrough();
    src.write('first|');
    const body = await ReplayBody.open(src, 1024);
    const first = body.attemptBody();
    assert.ok(!Buffer.isBuffer(first), 'not held back until the end');
    const got = new Promise<string>((resolve) => first.once('data', (c: Buffer) => resolve(c.toString())));
    assert.equal(await got, 'first|', 'the first attempt reads what came before the end');
    src.write('second|');
    await tick();
    assert.equal(body.replayable, true);
    const second = body.attemptBody();
    assert.equal(first.destroyed, true, 'the abandoned attempt stops reading');
    const all = collect(second as Readable);
    src.end('third');
    assert.equal(await all, 'first|second|third');
  });

  it('cannot replay once the body went past the limit, but the current attempt gets every byte', async () => {
    const src = new PassThrough();
    src.write('a'.repeat(10));
    const body = await ReplayBody.open(src, 16);
    const all = collect(body.attemptBody() as Readable);
    src.write('b'.repeat(10));
    src.end('c');
    assert.equal(await all, `${'a'.repeat(10)}${'b'.repeat(10)}c`);
    assert.equal(body.replayable, false);
  });

  it('holds the client back past the limit between attempts rather than dropping bytes', async () => {
    const src = new PassThrough();
    src.write('x'.repeat(20));
    const body = await ReplayBody.open(src, 16);
    src.write('y'.repeat(5));
    await tick();
    assert.equal(src.isPaused(), true);
    const all = collect(body.attemptBody() as Readable);
    src.end('z');
    assert.equal(await all, `${'x'.repeat(20)}${'y'.repeat(5)}z`);
  });

  it('closes the attempt early and cannot replay when the client goes away mid-body', async () => {
    const src = new PassThrough();
    src.write('part');
    const body = await ReplayBody.open(src, 1024);
    const view = body.attemptBody() as Readable;
    view.resume();
    src.destroy();
    await tick();
    assert.equal(view.destroyed, true);
    assert.equal(body.replayable, false);
  });
});
