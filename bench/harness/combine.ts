// A block measures each path in several short passes (A B B A ...), so that the machine's drift
// within the block falls on both pairs alike; these fold the passes of one path back into one
// result. Rates are total work over total time; latency percentiles are the request-weighted
// mean of the passes' percentiles (wrk prints no histogram to merge exactly).
import type { BulkResult } from './bulk-client.js';
import type { Measured, PhaseCpu } from './hop-report.js';
import type { WrkResult } from './wrk.js';

export function combineWrk(parts: readonly WrkResult[]): WrkResult {
  if (parts.length === 0) throw new Error('combineWrk: no passes');
  if (parts.length === 1) return parts[0]!;
  const sum = (f: (r: WrkResult) => number): number => parts.reduce((a, r) => a + f(r), 0);
  const requests = sum((r) => r.requests);
  const durationS = sum((r) => r.durationS);
  const weighted = (f: (r: WrkResult) => number): number => (requests > 0 ? sum((r) => f(r) * r.requests) / requests : sum(f) / parts.length);
  const base: WrkResult = {
    requests,
    durationS,
    requestsPerSec: durationS > 0 ? requests / durationS : 0,
    bytesRead: sum((r) => r.bytesRead),
    socketErrors: {
      connect: sum((r) => r.socketErrors.connect),
      read: sum((r) => r.socketErrors.read),
      write: sum((r) => r.socketErrors.write),
      timeout: sum((r) => r.socketErrors.timeout),
    },
    non2xx: sum((r) => r.non2xx),
    latencyMeanMs: weighted((r) => r.latencyMeanMs),
  };
  if (!parts.every((r) => r.percentilesMs)) return base;
  const pct = (k: 'p50' | 'p75' | 'p90' | 'p99'): number => weighted((r) => r.percentilesMs![k]);
  return { ...base, percentilesMs: { p50: pct('p50'), p75: pct('p75'), p90: pct('p90'), p99: pct('p99') } };
}

export function combineBulk(parts: readonly BulkResult[]): BulkResult {
  if (parts.length === 0) throw new Error('combineBulk: no passes');
  const bytes = parts.reduce((a, r) => a + r.bytes, 0);
  const seconds = parts.reduce((a, r) => a + r.seconds, 0);
  return { bytes, seconds, gbps: (bytes * 8) / seconds / 1e9 };
}

/** CPU of the passes added up; background and steal as time-weighted means. */
export function combineCpu(parts: readonly PhaseCpu[]): PhaseCpu {
  const wallS = parts.reduce((a, c) => a + c.wallS, 0);
  const cpuS: Record<string, number> = {};
  for (const c of parts) for (const [label, s] of Object.entries(c.cpuS)) cpuS[label] = round3((cpuS[label] ?? 0) + s);
  const mean = (f: (c: PhaseCpu) => number | undefined): number => round3(parts.reduce((a, c) => a + (f(c) ?? 0) * c.wallS, 0) / wallS);
  return {
    wallS,
    cpuS,
    loadGenS: round3(parts.reduce((a, c) => a + (c.loadGenS ?? 0), 0)),
    kernelCores: mean((c) => c.kernelCores),
    backgroundCores: mean((c) => c.backgroundCores),
    stealCores: mean((c) => c.stealCores),
  };
}

export function combineMeasured<T>(parts: readonly Measured<T>[], combine: (rs: readonly T[]) => T): Measured<T> & { readonly passes: readonly Measured<T>[] } {
  return { result: combine(parts.map((p) => p.result)), cpu: combineCpu(parts.map((p) => p.cpu)), passes: parts };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
