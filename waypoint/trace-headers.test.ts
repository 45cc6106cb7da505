import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propagateTrace, type HeaderList, type TraceIds } from './trace-headers.js';

function ids(): TraceIds {
  let n = 0;
  return {
    spanId: () => (++n).toString(16).padStart(16, 'a'),
    traceId: () => 'f'.repeat(31) + (++n % 10),
    requestId: () => `req-${++n}`,
  };
}

const get = (h: HeaderList, name: string): string[] => h.filter(([n]) => n === name).map(([, v]) => v);

describe('propagateTrace', () => {
  it('generates x-request-id and a new trace when the request has neither', () => {
    const h: HeaderList = [['host', 'a']];
    const r = propagateTrace(h, ids());
    assert.deepEqual(get(h, 'x-request-id'), [r.requestId]);
    assert.match(get(h, 'traceparent')[0]!, new RegExp(`^00-${r.traceId}-${r.spanId}-01$`));
  });

  it('keeps the trace id and flags of a traceparent and sets a new child span id', () => {
    const h: HeaderList = [['traceparent', `00-${'1'.repeat(32)}-${'2'.repeat(16)}-00`], ['x-request-id', 'keep-me']];
    const r = propagateTrace(h, ids());
    assert.equal(r.requestId, 'keep-me');
    assert.equal(r.traceId, '1'.repeat(32));
    assert.notEqual(r.spanId, '2'.repeat(16));
    assert.deepEqual(get(h, 'traceparent'), [`00-${'1'.repeat(32)}-${r.spanId}-00`]);
  });

  it('starts a new trace for a malformed or all-zero traceparent, and collapses duplicates', () => {
    for (const bad of ['garbage', `00-${'0'.repeat(32)}-${'2'.repeat(16)}-01`, `ff-${'1'.repeat(32)}-${'2'.repeat(16)}-01`]) {
      const h: HeaderList = [['traceparent', bad], ['traceparent', bad]];
      const r = propagateTrace(h, ids());
      assert.deepEqual(get(h, 'traceparent'), [`00-${r.traceId}-${r.spanId}-01`]);
    }
  });

  it('continues B3: the old span becomes the parent, the trace id carries into traceparent', () => {
    const h: HeaderList = [['x-b3-traceid', 'abcdef0123456789'], ['x-b3-spanid', '1111111111111111'], ['x-b3-sampled', '1']];
    const r = propagateTrace(h, ids());
    assert.deepEqual(get(h, 'x-b3-parentspanid'), ['1111111111111111']);
    assert.deepEqual(get(h, 'x-b3-spanid'), [r.spanId]);
    assert.equal(r.traceId, '0000000000000000abcdef0123456789');
    assert.deepEqual(get(h, 'x-b3-sampled'), ['1']);
  });
});
