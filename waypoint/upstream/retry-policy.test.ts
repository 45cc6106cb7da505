import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backoffMs, buildRetryPolicy, shouldRetry, type AttemptOutcome,
} from './retry-policy.js';
import { seededRandom } from '../../shared/seeded-random.js';

const response = (status: number, grpcStatus?: number): AttemptOutcome =>
  grpcStatus === undefined ? { kind: 'response', status } : { kind: 'response', status, grpcStatus };
const policy = (...tokens: string[]) => buildRetryPolicy(tokens).policy;

describe('shouldRetry', () => {
  it('retries every 5xx and every failure to answer under 5xx, but not a 4xx', () => {
    const p = policy('5xx');
    for (const s of [500, 501, 502, 503, 504, 599]) assert.equal(shouldRetry(p, response(s)), true, `${s}`);
    for (const s of [200, 404, 409, 429]) assert.equal(shouldRetry(p, response(s)), false, `${s}`);
    for (const kind of ['connect-failure', 'reset', 'refused-stream', 'per-try-timeout'] as const) {
      assert.equal(shouldRetry(p, { kind }), true, kind);
    }
  });

  it('retries only 502, 503 and 504 (and failures to answer) under gateway-error', () => {
    const p = policy('gateway-error');
    assert.deepEqual([500, 501, 502, 503, 504].map((s) => shouldRetry(p, response(s))), [false, false, true, true, true]);
    assert.equal(shouldRetry(p, { kind: 'reset' }), true);
  });

  it('retries a connect failure under connect-failure but neither a reset nor a 503', () => {
    const p = policy('connect-failure');
    assert.equal(shouldRetry(p, { kind: 'connect-failure' }), true);
    assert.equal(shouldRetry(p, { kind: 'reset' }), false);
    assert.equal(shouldRetry(p, response(503)), false);
  });

  it('retries 409 under retriable-4xx and REFUSED_STREAM under refused-stream', () => {
    assert.equal(shouldRetry(policy('retriable-4xx'), response(409)), true);
    assert.equal(shouldRetry(policy('retriable-4xx'), response(400)), false);
    assert.equal(shouldRetry(policy('refused-stream'), { kind: 'refused-stream' }), true);
    assert.equal(shouldRetry(policy('refused-stream'), { kind: 'reset' }), false);
  });

  it('retries resets and per-try timeouts under reset, but not responses', () => {
    const p = policy('reset');
    assert.equal(shouldRetry(p, { kind: 'reset' }), true);
    assert.equal(shouldRetry(p, { kind: 'per-try-timeout' }), true);
    assert.equal(shouldRetry(p, response(503)), false);
  });

  it('treats bare status codes as retriable status codes, as Istio does', () => {
    const built = buildRetryPolicy(['503', '429']);
    assert.ok(built.policy.retryOn.has('retriable-status-codes'));
    assert.equal(shouldRetry(built.policy, response(429)), true);
    assert.equal(shouldRetry(built.policy, response(500)), false);
  });

  it('reads gRPC conditions from grpc-status, whatever the HTTP status', () => {
    const p = policy('unavailable', 'cancelled');
    assert.equal(shouldRetry(p, response(200, 14)), true);
    assert.equal(shouldRetry(p, response(200, 1)), true);
    assert.equal(shouldRetry(p, response(200, 13)), false);
    assert.equal(shouldRetry(policy('internal', 'deadline-exceeded', 'resource-exhausted'), response(200, 8)), true);
    assert.equal(shouldRetry(p, response(200)), false);
  });

  it('never retries a local circuit-breaker overflow', () => {
    assert.equal(shouldRetry(policy('5xx', 'reset', 'gateway-error'), { kind: 'overflow' }), false);
  });

  it('reports tokens it does not act on instead of throwing', () => {
    const built = buildRetryPolicy(['5xx', 'retriable-headers', ' ', 'bogus']);
    assert.deepEqual(built.ignored, ['retriable-headers', 'bogus']);
    assert.ok(built.policy.retryOn.has('5xx'));
  });
});


describe('backoffMs', () => {
  it('stays below (2^N - 1) × 25 ms for retry N and below the 250 ms cap', () => {
    const upper = [25, 75, 175, 250, 250, 250];
    const random = seededRandom(3);
    upper.forEach((u, i) => {
      let max = 0;
      for (let k = 0; k < 2000; k++) {
        const b = backoffMs(i + 1, random);
        assert.ok(b >= 0 && b < u && Number.isInteger(b), `retry ${i + 1}: ${b}`);
        max = Math.max(max, b);
      }
      assert.ok(max >= u * 0.9, `retry ${i + 1} reaches near its bound, got ${max}`);
    });
  });

  it('is fully jittered: the mean for the first retry is about half the base', () => {
    const random = seededRandom(11);
    let sum = 0;
    const n = 20_000;
    for (let k = 0; k < n; k++) sum += backoffMs(1, random, 100);
    const mean = sum / n;
    assert.ok(Math.abs(mean - 49.5) < 1.5, `mean ${mean}`);
  });

  it('honours a custom base and cap and never fails on odd input', () => {
    assert.equal(backoffMs(5, () => 0.999999, 10, 40), 39);
    assert.equal(backoffMs(1, () => 0, 10, 40), 0);
    assert.equal(backoffMs(0, () => 0.5, 0), 0);
    assert.ok(backoffMs(Number.NaN, () => 0.5) < 25);
    assert.ok(backoffMs(1000, () => 0.999) < 250);
  });
});
