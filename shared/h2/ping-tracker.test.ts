import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PingTracker } from './ping-tracker.js';

describe('PingTracker', () => {
  it('calls back once per acknowledged PING with its payload, and ignores unknown or repeated ACKs', () => {
    const t = new PingTracker(10);
    const calls: Array<[Error | null, Buffer]> = [];
    const a = t.start((err, _ms, payload) => calls.push([err, payload]));
    const b = t.start((err, _ms, payload) => calls.push([err, payload]));
    assert.ok(!a.equals(b), 'each PING has its own payload');
    assert.equal(t.outstanding, 2);
    t.acked(b);
    t.acked(b);
    t.acked(Buffer.from('12345678'));
    assert.equal(calls.length, 1);
    assert.ok(calls[0]![1].equals(b));
    assert.equal(t.outstanding, 1);
  });

  it('refuses more than the outstanding limit, and takes new PINGs once one is acknowledged', () => {
    const t = new PingTracker(2);
    const first = t.start(() => undefined);
    t.start(() => undefined);
    assert.throws(() => t.start(() => undefined), /too many outstanding pings/);
    t.acked(first);
    assert.doesNotThrow(() => t.start(() => undefined));
  });

  it('fails every outstanding PING when the session ends, once', () => {
    const t = new PingTracker(5);
    const errors: Array<Error | null> = [];
    t.start((err) => errors.push(err));
    t.start((err) => errors.push(err));
    t.failAll();
    t.failAll();
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof Error));
    assert.equal(t.outstanding, 0);
  });
});
