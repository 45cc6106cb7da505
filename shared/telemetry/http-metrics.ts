// Istio's HTTP metrics (facts §7.1, "Waypoint (Envoy) metrics"): istio_requests_total,
// istio_request_duration_milliseconds (Envoy's default buckets), istio_request_bytes and
// istio_response_bytes, with the TCP labels plus response_code, grpc_response_status and
// request_protocol (http/grpc). Counted in our own series and exposed through the registry it is
// given: prom-client re-hashes ~25 labels on every observe() (even through a label child), which
// the waypoint's profile showed at ~5 % of its CPU; here a request costs a map lookup.
import type { Registry } from 'prom-client';
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

class Histogram {
  /** Per-bucket (not cumulative) counts; the last slot is +Inf. */
  readonly counts: number[];
  readonly bounds: readonly number[];
  sum = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  observe(v: number): void {
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
  }
}

interface Series {
  readonly labels: HttpLabels;
  count: number;
  readonly duration: Histogram;
  readonly requestBytes: Histogram;
  readonly responseBytes: Histogram;
}

type Value = { readonly value: number; readonly labels: Record<string, string | number>; readonly metricName?: string };

/** A metric object prom-client's Registry can render (the shape its own metrics have). */
function exposed(name: string, help: string, type: 'counter' | 'histogram', values: () => Value[]): Parameters<Registry['registerMetric']>[0] {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  } as unknown as Parameters<Registry['registerMetric']>[0];
}

function histogramValues(name: string, all: Iterable<Series>, pick: (s: Series) => Histogram): Value[] {
  const out: Value[] = [];
  for (const s of all) {
    const h = pick(s);
    let cumulative = 0;
    h.bounds.forEach((b, i) => {
      cumulative += h.counts[i]!;
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: b }, value: cumulative });
    });
    cumulative += h.counts[h.bounds.length]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: cumulative });
    out.push({ metricName: `${name}_sum`, labels: s.labels, value: h.sum });
    out.push({ metricName: `${name}_count`, labels: s.labels, value: cumulative });
  }
  return out;
}

export class HttpMetrics {
  /** Every series, by its full label set (kept for the process's life, as Prometheus expects). */
  private readonly series = new Map<string, Series>();
  /** Short keys (parties + outcome) → series; cleared when the parties' labels may change. */
  private readonly byKey = new Map<string, Series>();

  constructor(registry: Registry) {
    const all = () => this.series.values();
    registry.registerMetric(exposed('istio_requests_total', 'Total number of requests handled by the proxy', 'counter', () => [...all()].map((s) => ({ labels: s.labels, value: s.count }))));
    registry.registerMetric(exposed('istio_request_duration_milliseconds', 'Request duration in milliseconds', 'histogram', () => histogramValues('istio_request_duration_milliseconds', all(), (s) => s.duration)));
    registry.registerMetric(exposed('istio_request_bytes', 'Request body size in bytes', 'histogram', () => histogramValues('istio_request_bytes', all(), (s) => s.requestBytes)));
    registry.registerMetric(exposed('istio_response_bytes', 'Response body size in bytes', 'histogram', () => histogramValues('istio_response_bytes', all(), (s) => s.responseBytes)));
  }

  /** Forgets the short keys (call when the workloads behind them may have changed); counts stay. */
  clearCache(): void {
    this.byKey.clear();
  }

  record(r: RequestRecord): void {
    const key = r.trafficKey === undefined ? undefined : `${r.trafficKey}|${r.protocol}|${r.flags}|${r.responseCode}|${r.grpcStatus ?? ''}`;
    let s = key === undefined ? undefined : this.byKey.get(key);
    if (!s) {
      const labels: HttpLabels = {
        ...r.traffic,
        request_protocol: r.protocol,
        response_flags: r.flags,
        response_code: String(r.responseCode),
        grpc_response_status: r.grpcStatus ?? '',
      };
      const full = JSON.stringify(labels);
      s = this.series.get(full);
      if (!s) {
        s = { labels, count: 0, duration: new Histogram(durationBucketsMs), requestBytes: new Histogram(sizeBuckets), responseBytes: new Histogram(sizeBuckets) };
        this.series.set(full, s);
      }
      if (key !== undefined) {
        if (this.byKey.size >= 10_000) this.byKey.clear();
        this.byKey.set(key, s);
      }
    }
    s.count++;
    s.duration.observe(r.durationMs);
    s.requestBytes.observe(r.requestBytes);
    s.responseBytes.observe(r.responseBytes);
  }
}
