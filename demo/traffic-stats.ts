// What steady traffic measured, per edge: requests, status codes, errors, rate and latency
// quantiles. The sample client (demo/sample-app.ts) records every request here; the demo prints
// the summaries and judges scenarios from them. The statistics themselves are the benchmarks'
// (bench/harness/latency-stats.ts), so `npm run bench:demo` and `ambit demo` agree. Pure.
import { isSuccessStatus, ratePerSecond, successRatio, summarizeLatencies } from '../bench/harness/latency-stats.js';

/** Who answered: the echo pod named in `x-echo-pod`, or the mesh itself (no backend reached). */
export const meshAnswered = '(mesh)';
export const noAnswer = '(no answer)';

export interface EdgeSummary {
  readonly requests: number;
  /** Responses by HTTP status, and failures (reset, refused, timeout) by error code. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly errors: Readonly<Record<string, number>>;
  /** Share of requests answered 2xx, 0..1 (0 when there were none). */
  readonly successRate: number;
  /** Latency quantiles by nearest rank over every request, failed ones included (NaN of none). */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface TrafficSummary extends EdgeSummary {
  readonly durationMs: number;
  /** Requests finished per second over `durationMs`. */
  readonly requestsPerS: number;
  /** Per answering pod (or meshAnswered / noAnswer). */
  readonly edges: Readonly<Record<string, EdgeSummary>>;
}

class Edge {
  readonly latencies: number[] = [];
  readonly statuses: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  ok = 0;

  summary(): EdgeSummary {
    const { count: requests, p50Ms, p90Ms, p99Ms, maxMs } = summarizeLatencies(this.latencies);
    return { requests, statuses: { ...this.statuses }, errors: { ...this.errors }, successRate: successRatio(this.ok, requests), p50Ms, p90Ms, p99Ms, maxMs };
  }
}

export class TrafficStats {
  private readonly all = new Edge();
  private readonly edges = new Map<string, Edge>();

  /** One request: answered with `status` by `pod` (if named), or failed with `error`. */
  record(outcome: { readonly status: number; readonly pod?: string } | { readonly error: string }, latencyMs: number): void {
    const key = 'error' in outcome ? noAnswer : (outcome.pod ?? meshAnswered);
    let edge = this.edges.get(key);
    if (!edge) this.edges.set(key, (edge = new Edge()));
    for (const e of [this.all, edge]) {
      e.latencies.push(latencyMs);
      if ('error' in outcome) e.errors[outcome.error] = (e.errors[outcome.error] ?? 0) + 1;
      else {
        e.statuses[outcome.status] = (e.statuses[outcome.status] ?? 0) + 1;
        if (isSuccessStatus(outcome.status)) e.ok++;
      }
    }
  }

  get requests(): number {
    return this.all.latencies.length;
  }

  summary(durationMs: number): TrafficSummary {
    const edges: Record<string, EdgeSummary> = {};
    for (const [k, e] of [...this.edges].sort(([a], [b]) => a.localeCompare(b))) edges[k] = e.summary();
    return { ...this.all.summary(), durationMs, requestsPerS: ratePerSecond(this.requests, durationMs), edges };
  }
}

/** Requests to `pod` as a share of all requests (0 when there were none). */
export function shareOf(s: TrafficSummary, pod: string): number {
  return s.requests === 0 ? 0 : (s.edges[pod]?.requests ?? 0) / s.requests;
}

/** How many requests got `status` (a number) or failed (`'error'`). */
export function countOf(s: TrafficSummary, status: number | 'error'): number {
  return status === 'error' ? Object.values(s.errors).reduce((a, b) => a + b, 0) : (s.statuses[status] ?? 0);
}
