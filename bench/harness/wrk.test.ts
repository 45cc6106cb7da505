import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildWrkArgs, parseWrkOutput, totalSocketErrors } from './wrk.js';

// Real wrk 4.1 output (Debian's build), trimmed of nothing.
const withLatency = `Running 3s test @ http://127.0.0.1:18100/
  1 threads and 1 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   265.36us    1.02ms  22.05ms   98.90%
    Req/Sec     3.78k     1.03k    5.23k    54.84%
  Latency Distribution
     50%  223.00us
     75%  251.00us
     90%  301.00us
     99%    4.25ms
  11655 requests in 3.10s, 2.38MB read
  Socket errors: connect 0, read 18, write 1, timeout 2
  Non-2xx or 3xx responses: 5
Requests/sec:   3759.68
Transfer/sec:    786.21KB
`;

const plain = `Running 1m test @ http://127.0.0.1:8080/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    5.26ms  79.19ms   95.73%
    Req/Sec    17.95k     5.34k   27.58k    70.00%
  1070160 requests in 1.00m, 219.38MB read
Requests/sec:  17836.78
Transfer/sec:      3.66MB
`;

describe('parseWrkOutput', () => {
  it('reads rate, counts, errors and the latency distribution in milliseconds', () => {
    const r = parseWrkOutput(withLatency);
    assert.equal(r.requests, 11655);
    assert.equal(r.durationS, 3.1);
    assert.equal(r.requestsPerSec, 3759.68);
    assert.equal(r.bytesRead, Math.round(2.38 * 1024 ** 2));
    assert.deepEqual(r.socketErrors, { connect: 0, read: 18, write: 1, timeout: 2 });
    assert.equal(totalSocketErrors(r), 21);
    assert.equal(r.non2xx, 5);
    assert.ok(Math.abs(r.latencyMeanMs - 0.26536) < 1e-9);
    assert.deepEqual(r.percentilesMs, { p50: 0.223, p75: 0.251, p90: 0.301, p99: 4.25 });
  });

  it('treats missing error lines as zero and minutes as 60 s', () => {
    const r = parseWrkOutput(plain);
    assert.equal(r.durationS, 60);
    assert.equal(totalSocketErrors(r), 0);
    assert.equal(r.non2xx, 0);
    assert.equal(r.percentilesMs, undefined);
  });

  it('throws when wrk printed no summary', () => {
    assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused'), /no summary/);
  });
});

describe('buildWrkArgs', () => {
  it('passes headers and --latency before the url', () => {
    assert.deepEqual(
      buildWrkArgs({ url: 'http://127.0.0.1:1/', threads: 1, connections: 64, durationS: 5, latency: true, headers: ['Connection: close'] }),
      ['-t', '1', '-c', '64', '-d', '5s', '--timeout', '5s', '--latency', '-H', 'Connection: close', 'http://127.0.0.1:1/'],
    );
  });

  it('refuses durations wrk cannot take', () => {
    assert.throws(() => buildWrkArgs({ url: 'http://127.0.0.1:1/', threads: 1, connections: 1, durationS: 0.5 }), /whole seconds/);
  });
});
