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
  /** A short key that identifies `traffic` (e.g. the parties' uids): label sets are resolved once per key. */
  readonly trafficKey?: string;
  readonly protocol: 'http' | 'grpc';
  readonly responseCode: number;
  readonly grpcStatus?: string;
  /** Envoy's response flags for the request (`-` when none), e.g. `UO`, `UH`, `NR`, `DI`, `FI`, `UT`, `URX`. */
  readonly flags: string;
  readonly durationMs: number;
  readonly requestBytes: number;
  readonly responseBytes: number;
}

interface Series {
  inc(): void;
  observe(durationMs: number, requestBytes: number, responseBytes: number): void;
}

/** Distinct label sets kept resolved; past this the cache starts over (label churn stays bounded). */
const maxCachedSeries = 10_000;

export class HttpMetrics {
  private readonly series = new Map<string, Series>();
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

  /** Forgets resolved label sets (call when the workloads behind the keys may have changed). */
  clearCache(): void {
    this.series.clear();
  }

  record(r: RequestRecord): void {
    // prom-client hashes a label object on every call (sorting 25 names): resolve each label set once.
    const key = r.trafficKey === undefined ? undefined : `${r.trafficKey}|${r.protocol}|${r.flags}|${r.responseCode}|${r.grpcStatus ?? ''}`;
    let s = key === undefined ? undefined : this.series.get(key);
    if (!s) {
      const labels: HttpLabels = {
        ...r.traffic,
        request_protocol: r.protocol,
        response_flags: r.flags,
        response_code: String(r.responseCode),
        grpc_response_status: r.grpcStatus ?? '',
      };
      const count = this.requests.labels(labels);
      const duration = this.duration.labels(labels);
      const reqBytes = this.requestBytes.labels(labels);
      const resBytes = this.responseBytes.labels(labels);
      s = {
        inc: () => count.inc(),
        observe: (d, q, p) => {
          duration.observe(d);
          reqBytes.observe(q);
          resBytes.observe(p);
        },
      };
      if (key !== undefined) {
        if (this.series.size >= maxCachedSeries) this.series.clear();
        this.series.set(key, s);
      }
    }
    s.inc();
    s.observe(r.durationMs, r.requestBytes, r.responseBytes);
  }
}
