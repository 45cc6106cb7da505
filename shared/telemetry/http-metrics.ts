// Istio's HTTP metrics (facts §7.1, "Waypoint (Envoy) metrics"): istio_requests_total,
// istio_request_duration_milliseconds (Envoy's default buckets), istio_request_bytes and
// istio_response_bytes, with the TCP labels plus response_code, grpc_response_status and
// request_protocol (http/grpc). One HttpMetrics per process, on the registry it is given.
import { Counter, Histogram, type Registry } from 'prom-client';
import { trafficLabelNames, type TrafficLabels } from './tcp-metrics.js';

export const httpLabelNames = [...trafficLabelNames, 'response_code', 'grpc_response_status'] as const;
export type HttpLabels = Record<(typeof httpLabelNames)[number], string>;

/** Envoy's default histogram buckets, which Istio's duration metric uses (milliseconds). */
export const durationBucketsMs = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's size buckets (bytes): powers of ten from 1 to 10^8. */
export const sizeBuckets = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

export interface RequestRecord {
  /** The connection-level labels; `request_protocol` and `response_flags` are overridden here. */
  readonly traffic: TrafficLabels;
  readonly protocol: 'http' | 'grpc';
  readonly responseCode: number;
  readonly grpcStatus?: string;
  /** Envoy's response flags for the request (`-` when none), e.g. `UO`, `UH`, `NR`, `DI`, `FI`, `UT`, `URX`. */
  readonly flags: string;
  readonly durationMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

export class HttpMetrics {
  private readonly requests: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly requestBytes: Histogram<string>;
  private readonly responseBytes: Histogram<string>;

  constructor(registry: Registry) {
    const labelNames = [...httpLabelNames];
    this.requests = new Counter({ name: 'istio_requests_total', help: 'Total number of requests handled by the proxy', labelNames, registers: [registry] });
    this.duration = new Histogram({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds', labelNames, buckets: durationBucketsMs, registers: [registry] });
    this.requestBytes = new Histogram({ name: 'istio_request_bytes', help: 'Request body size in bytes', labelNames, buckets: sizeBuckets, registers: [registry] });
    this.responseBytes = new Histogram({ name: 'istio_response_bytes', help: 'Response body size in bytes', labelNames, buckets: sizeBuckets, registers: [registry] });
  }

  record(r: RequestRecord): void {
    const labels: HttpLabels = {
      ...r.traffic,
      request_protocol: r.protocol,
      response_flags: r.flags,
      response_code: String(r.responseCode),
      grpc_response_status: r.grpcStatus ?? '',
    };
    this.requests.inc(labels);
    this.duration.observe(labels, r.durationMs);
    this.requestBytes.observe(labels, r.requestBytes);
    this.responseBytes.observe(labels, r.responseBytes);
  }
}
