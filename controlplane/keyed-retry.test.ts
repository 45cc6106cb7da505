import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../shared/log.js';
import { KeyedRetry } from './keyed-retry.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('KeyedRetry', () => {
  it('keeps one pending retry per key, doubles the back-off per failure, and starts over after a success', async () => {
    const warnings: { target: string; retryMs: number }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        warnings.push(JSON.parse(chunk.toString()) as { target: string; retryMs: number });
        cb();
      },
    });
    const log = createLogger({ level: 'warn', name: 't', destination });
    const r = new KeyedRetry(log, 'failed; retrying', { initial: 5, max: 20 });
    let runs = 0;
    r.schedule('a', new Error('x'), () => runs++);
    r.schedule('a', new Error('x'), () => runs++); // already pending: ignored
    await sleep(30);
    assert.equal(runs, 1);
    r.schedule('a', new Error('x'), () => runs++);
    r.schedule('a', new Error('x'), () => runs++);
    await sleep(30);
    r.schedule('a', new Error('x'), () => runs++);
    await sleep(40);
    assert.deepEqual(warnings.filter((w) => w.target === 'a').map((w) => w.retryMs), [5, 10, 20]);
    r.succeeded('a');
    r.schedule('a', new Error('x'), () => runs++);
    assert.equal(warnings.at(-1)?.retryMs, 5);
    r.close();
    await sleep(20);
    assert.equal(runs, 3, 'close cancels the pending retry');
  });
});
