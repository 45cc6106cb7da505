import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, CircuitBreakerSet, resolveCircuitBreakerLimits, unlimited, type Admission } from './circuit-breaker.js';

function held(a: Admission): { release(): void } {
  assert.equal(a.ok, true);
  return a as { ok: true; release(): void };
}

describe('resolveCircuitBreakerLimits', () => {
  it('maps connectionPool fields to Envoy thresholds and leaves unset or 0 unlimited (Istio MaxUint32)', () => {
    assert.deepEqual(resolveCircuitBreakerLimits(undefined), {
      maxConnections: unlimited, maxPendingRequests: unlimited, maxRequests: unlimited, maxRetries: unlimited, maxRequestsPerConnection: 0,
    });
    assert.deepEqual(
      resolveCircuitBreakerLimits({ tcp: { maxConnections: 10 }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 0, maxRetries: 3, maxRequestsPerConnection: 5 } }),
      { maxConnections: 10, maxPendingRequests: 1, maxRequests: unlimited, maxRetries: 3, maxRequestsPerConnection: 5 },
    );
  });
});

describe('CircuitBreaker', () => {
  it('admits up to the limit, then overflows with flag UO until a unit is released', () => {
    const cb = new CircuitBreaker(resolveCircuitBreakerLimits({ http: { http2MaxRequests: 2 } }));
    const a = held(cb.acquire('request'));
    held(cb.acquire('request'));
    assert.deepEqual(cb.acquire('request'), { ok: false, flag: 'UO', kind: 'request' });
    a.release();
    assert.equal(cb.acquire('request').ok, true);
  });

  it('counts each kind on its own', () => {
    const cb = new CircuitBreaker(resolveCircuitBreakerLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, maxRetries: 1 } }));
    held(cb.acquire('connection'));
    held(cb.acquire('pending'));
    held(cb.acquire('retry'));
    assert.equal(cb.acquire('connection').ok, false);
    assert.equal(cb.acquire('pending').ok, false);
    assert.equal(cb.acquire('retry').ok, false);
    assert.equal(cb.acquire('request').ok, true, 'requests are unlimited here');
  });

  it('ignores a second release of the same unit', () => {
    const cb = new CircuitBreaker(resolveCircuitBreakerLimits({ http: { maxRetries: 1 } }));
    const a = held(cb.acquire('retry'));
    a.release();
    a.release();
    assert.equal(cb.inUse('retry'), 0);
    held(cb.acquire('retry'));
    assert.equal(cb.acquire('retry').ok, false, 'the double release did not free a phantom unit');
  });

  it('applies lowered limits to new acquires while held units stay counted', () => {
    const cb = new CircuitBreaker(resolveCircuitBreakerLimits({ http: { http2MaxRequests: 3 } }));
    const a = held(cb.acquire('request'));
    held(cb.acquire('request'));
    cb.updateLimits(resolveCircuitBreakerLimits({ http: { http2MaxRequests: 2 } }));
    assert.equal(cb.acquire('request').ok, false);
    a.release();
    assert.equal(cb.acquire('request').ok, true);
  });
});

describe('CircuitBreakerSet', () => {
  it('keeps one breaker per cluster across updates and drops clusters no longer live', () => {
    const set = new CircuitBreakerSet();
    const a = set.forCluster('a', { http: { http2MaxRequests: 1 } });
    held(a.acquire('request'));
    const again = set.forCluster('a', { http: { http2MaxRequests: 2 } });
    assert.equal(again, a);
    assert.equal(again.inUse('request'), 1);
    assert.equal(again.acquire('request').ok, true, 'the raised limit applies');
    set.forCluster('b', undefined);
    set.retain(new Set(['b']));
    assert.equal(set.size, 1);
    assert.notEqual(set.forCluster('a', undefined), a);
  });
});
