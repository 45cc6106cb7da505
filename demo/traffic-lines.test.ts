import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMs, trafficLines } from './traffic-lines.js';
import { TrafficStats } from './traffic-stats.js';

describe('trafficLines', () => {
  it('prints the total and one line per edge with requests, 2xx share, p50/p99 and codes', () => {
    const t = new TrafficStats();
    for (let i = 1; i <= 90; i++) t.record({ status: 200, pod: 'echo-v1' }, i / 10);
    for (let i = 1; i <= 10; i++) t.record({ status: 200, pod: 'echo-v2' }, 100 + i);
    t.record({ error: 'ECONNRESET' }, 3);
    // All 101 by nearest rank: p50 = 51st (5.0), p99 = 100th (109); echo-v1's p99 = 90th of 90 (9.0).
    const lines = trafficLines(t.summary(2000), 'client');
    assert.deepEqual(lines, [
      'traffic 101 requests in 2.0 s (51 req/s), 99.0% 2xx, p50 5.0 ms, p99 109 ms',
      '  client -> (no answer)     1 req    0.0% 2xx  p50   3.0 ms  p99   3.0 ms  [ECONNRESETx1]',
      '  client -> echo-v1        90 req  100.0% 2xx  p50   4.5 ms  p99   9.0 ms  [200x90]',
      '  client -> echo-v2        10 req  100.0% 2xx  p50   105 ms  p99   110 ms  [200x10]',
    ]);
  });

  it('prints no latency as "-", also after JSON turned NaN into null', () => {
    const s = JSON.parse(JSON.stringify(new TrafficStats().summary(1000))) as ReturnType<TrafficStats['summary']>;
    assert.equal(s.p50Ms, null);
    assert.deepEqual(trafficLines(s, 'client'), ['traffic 0 requests in 1.0 s (0 req/s), 0.0% 2xx, p50 -, p99 -']);
    assert.equal(formatMs(9.96), '10.0 ms');
    assert.equal(formatMs(10), '10 ms');
  });
});
