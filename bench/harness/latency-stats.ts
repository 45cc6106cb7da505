// The statistics our own code computes from what it measured: latency quantiles (nearest rank),
// rates and success ratios. `ambit demo`'s sample client (demo/traffic-stats.ts), the paced bench
// client (bench/ztunnel-netns-client.ts) and bench/controlplane.ts all use these, so the demo and
// the benchmarks report the same figures the same way. wrk's own percentiles stay wrk's. Pure.

/** Latency of a set of samples, in milliseconds; NaN quantiles when there were none. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * The q-quantile (q in 0..1, clamped) of `sorted` (ascending) by nearest rank: the smallest
 * sample with at least q of all samples at or below it. NaN for no samples or a NaN q: no sample
 * is not a latency of 0.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0 || Number.isNaN(q)) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

/** p50, p90, p99 and max of `samples` (any order; the array is not changed). */
export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p90Ms: quantile(sorted, 0.9),
    p99Ms: quantile(sorted, 0.99),
    maxMs: quantile(sorted, 1),
  };
}

/** `count` events over `durationMs`, per second; 0 when no time passed. */
export function ratePerSecond(count: number, durationMs: number): number {
  return durationMs > 0 ? (count * 1000) / durationMs : 0;
}

/** `ok` of `total` as a share 0..1; 0 when there was nothing (not NaN). */
export function successRatio(ok: number, total: number): number {
  return total > 0 ? ok / total : 0;
}

/** What counts as a success in every success rate we print: an HTTP 2xx answer. */
export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status < 300;
}
