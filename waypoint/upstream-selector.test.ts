import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from '../shared/config/model.js';
import type { Backend } from './l7-config.js';
import { ClientGone } from './client-gone.js';
import { UpstreamSelector } from './upstream-selector.js';
import { seededRandom } from '../shared/seeded-random.js';

const service: Service = { name: 'echo', namespace: 'demo', hostname: 'echo.demo.svc.cluster.local', addresses: ['10.96.0.1'], ports: [{ servicePort: 80, targetPort: 8080 }], headless: false };
const backend = (pool: NonNullable<Backend['trafficPolicy']>['connectionPool']): Backend => ({ service, port: 80, trafficPolicy: { ...(pool ? { connectionPool: pool } : {}) } });

describe('UpstreamSelector.admitRequest (Envoy HTTP/1.1 pool limits)', () => {
  it('queues a request beyond maxConnections as pending, refuses beyond http1MaxPendingRequests, and hands a freed connection to the oldest waiter', async () => {
    const s = new UpstreamSelector({ random: seededRandom(1) });
    const b = backend({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } });
    const first = s.admitRequest(b);
    assert.ok(!(first instanceof Promise) && first.ok);
    const second = s.admitRequest(b);
    assert.ok(second instanceof Promise, 'waits for a connection');
    const third = s.admitRequest(b);
    assert.deepEqual(third, { ok: false }, 'the pending queue is full: overflow');
    let granted = false;
    void (second as Promise<{ ok: boolean }>).then((a) => (granted = a.ok));
    await Promise.resolve();
    assert.equal(granted, false);
    if (!(first instanceof Promise) && first.ok) first.release();
    await new Promise((r) => setImmediate(r));
    assert.equal(granted, true, 'the freed connection went to the waiting request');
  });

  it('takes a queued request out of the queue when its client goes away, freeing its pending slot', async () => {
    const s = new UpstreamSelector({ random: seededRandom(1) });
    const b = backend({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } });
    const first = s.admitRequest(b);
    const gone = new ClientGone();
    const queued = s.admitRequest(b, gone);
    assert.ok(queued instanceof Promise);
    gone.abort();
    assert.deepEqual(await queued, { ok: false });
    const next = s.admitRequest(b);
    assert.ok(next instanceof Promise, 'the pending slot is free again (queued, not refused)');
    if (!(first instanceof Promise) && first.ok) first.release();
    assert.equal((await next).ok, true, 'the freed connection went to the live waiter, not the one that left');
  });

  it('refuses at once beyond http2MaxRequests, and admits everything without a connectionPool', () => {
    const s = new UpstreamSelector({ random: seededRandom(1) });
    const b = backend({ http: { http2MaxRequests: 2 } });
    const held = [s.admitRequest(b), s.admitRequest(b)];
    assert.ok(held.every((a) => !(a instanceof Promise) && a.ok));
    assert.deepEqual(s.admitRequest(b), { ok: false });
    const open = backend(undefined);
    for (let i = 0; i < 100; i++) assert.ok((s.admitRequest(open) as { ok: boolean }).ok);
  });
});
