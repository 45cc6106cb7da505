// The terminal lines of one step's traffic: the total (requests, rate, 2xx share, p50/p99) and one
// line per edge. `ambit demo` prints them after each step and `npm run bench:demo` prints the same
// lines in its report (bench/harness/demo-report.ts), so both show the same figures. Pure.
import type { TrafficSummary } from './traffic-stats.js';

/** `5.2 ms`, `149 ms`; `-` when there is no latency (no request, or NaN/null after JSON). */
export function formatMs(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-';
  return `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
}

const percent = (x: number): string => (x * 100).toFixed(1);

/** The total line, then `from -> edge` per answering pod (or (mesh) / (no answer)). */
export function trafficLines(s: TrafficSummary, from: string): string[] {
  const lines = [`traffic ${s.requests} requests in ${(s.durationMs / 1000).toFixed(1)} s (${s.requestsPerS.toFixed(0)} req/s), ${percent(s.successRate)}% 2xx, p50 ${formatMs(s.p50Ms)}, p99 ${formatMs(s.p99Ms)}`];
  for (const [edge, e] of Object.entries(s.edges)) {
    const codes = [...Object.entries(e.statuses), ...Object.entries(e.errors)].map(([k, v]) => `${k}x${v}`).join(' ');
    lines.push(`  ${from} -> ${edge.padEnd(11)} ${String(e.requests).padStart(5)} req  ${percent(e.successRate).padStart(5)}% 2xx  p50 ${formatMs(e.p50Ms).padStart(8)}  p99 ${formatMs(e.p99Ms).padStart(8)}  [${codes}]`);
  }
  return lines;
}
