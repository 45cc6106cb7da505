import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { HttpMetrics } from './http-metrics.js';
import { trafficLabels } from './tcp-metrics.js';

describe('HttpMetrics', () => {
  it('renders Istio\'s request counter and cumulative histograms in the Prometheus text format', async () => {
    const registry = new Registry();
    const m = new HttpMetrics(registry);
    const traffic = trafficLabels({ reporter: 'waypoint', mtls: true });
    for (const [code, ms] of [[200, 3], [200, 30], [503, 700]] as const) {
      m.record({ traffic, trafficKey: 'k', protocol: 'http', responseCode: code, flags: code === 503 ? 'UF' : '-', durationMs: ms, requestBytes: 0, responseBytes: 1024 });
    }
    const text = await registry.metrics();
    assert.match(text, /# TYPE istio_requests_total counter/);
    assert.match(text, /# TYPE istio_request_duration_milliseconds histogram/);
    assert.match(text, /istio_requests_total\{reporter="waypoint",[^}]*response_code="200",grpc_response_status=""\} 2/);
    assert.match(text, /istio_requests_total\{[^}]*response_flags="UF"[^}]*response_code="503"[^}]*\} 1/);
    const bucket = (le: string, code: string) => new RegExp(`istio_request_duration_milliseconds_bucket\\{[^}]*response_code="${code}"[^}]*le="${le.replace('+', '\\+')}"\\} (\\d+)`).exec(text)?.[1];
    assert.equal(bucket('5', '200'), '1', 'the 3 ms request');
    assert.equal(bucket('50', '200'), '2', 'cumulative: 3 ms and 30 ms');
    assert.equal(bucket('+Inf', '200'), '2');
    assert.match(text, /istio_request_duration_milliseconds_sum\{[^}]*response_code="200"[^}]*\} 33/);
    assert.match(text, /istio_response_bytes_count\{[^}]*response_code="503"[^}]*\} 1/);
  });

  it('keeps counting into the same series after the short keys are forgotten', async () => {
    const registry = new Registry();
    const m = new HttpMetrics(registry);
    const traffic = trafficLabels({ reporter: 'waypoint', mtls: true });
    const rec = () => m.record({ traffic, trafficKey: 'k', protocol: 'http', responseCode: 200, flags: '-', durationMs: 1, requestBytes: 0, responseBytes: 0 });
    rec();
    m.clearCache();
    rec();
    assert.match(await registry.metrics(), /istio_requests_total\{[^}]*\} 2/);
  });
});
