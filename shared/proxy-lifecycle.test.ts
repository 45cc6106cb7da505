import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyLifecycle } from './proxy-lifecycle.js';

describe('ProxyLifecycle', () => {
  it('is ready once every pending condition is met, and says which are missing when it is not', async () => {
    const life = new ProxyLifecycle('proxy', ['config', 'listeners']);
    await assert.rejects(life.waitReady(30), /proxy not ready after 30 ms: config, listeners/);
    life.pending.delete('config');
    setTimeout(() => life.pending.delete('listeners'), 20);
    await life.waitReady(1_000);
  });

  it('runs one shutdown however often asked, drains first, and tells the listeners after it', async () => {
    const life = new ProxyLifecycle('proxy', []);
    const order: string[] = [];
    life.onStopped(() => order.push('listener'));
    let runs = 0;
    const body = async (): Promise<void> => {
      runs++;
      order.push(`body draining=${life.draining} pending=${[...life.pending].join(',')}`);
    };
    const a = life.stop(body);
    const b = life.stop(body);
    assert.equal(a, b);
    await a;
    assert.equal(runs, 1);
    assert.deepEqual(order, ['body draining=true pending=draining', 'listener']);
    await assert.rejects(life.waitReady(20), /draining/);
  });
});
