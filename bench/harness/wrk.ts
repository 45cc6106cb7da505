// wrk as the HTTP load generator: the arguments for one phase, and its text report parsed into
// numbers (wrk 4.1 prints units: 28.00us, 1.55ms, 72.34MB, 4.00s).
import type { Placement, ProcessGroup } from './process-group.js';

export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationS: number;
  /** Adds --latency: the 50/75/90/99 % distribution. */
  readonly latency?: boolean;
  readonly headers?: readonly string[];
  readonly timeoutS?: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly durationS: number;
  readonly requestsPerSec: number;
  readonly bytesRead: number;
  readonly socketErrors: { readonly connect: number; readonly read: number; readonly write: number; readonly timeout: number };
  readonly non2xx: number;
  readonly latencyMeanMs: number;
  /** Present with `latency: true`. */
  readonly percentilesMs?: { readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
}

export function buildWrkArgs(o: WrkOptions): string[] {
  // wrk takes whole seconds only.
  if (!Number.isInteger(o.durationS) || o.durationS < 1) throw new Error(`wrk: duration must be whole seconds, got ${o.durationS}`);
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', `${o.timeoutS ?? 5}s`];
  if (o.latency) args.push('--latency');
  for (const h of o.headers ?? []) args.push('-H', h);
  args.push(o.url);
  return args;
}

const timeUnitsMs: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const byteUnits: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function toMs(value: string, unit: string): number {
  const scale = timeUnitsMs[unit];
  if (scale === undefined) throw new Error(`wrk: unknown time unit ${unit}`);
  return Number(value) * scale;
}

/** Parses wrk's report; throws if the summary lines are missing (wrk failed). */
export function parseWrkOutput(text: string): WrkResult {
  const summary = /(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read/.exec(text);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!summary || !rate) throw new Error(`wrk: no summary in output:\n${text}`);
  const latency = /^\s+Latency\s+([\d.]+)(us|ms|s|m|h)/m.exec(text);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const pct = (p: number): number | undefined => {
    const m = new RegExp(`^\\s+${p}(?:\\.0+)?%\\s+([\\d.]+)(us|ms|s|m|h)`, 'm').exec(text);
    return m ? toMs(m[1]!, m[2]!) : undefined;
  };
  const [p50, p75, p90, p99] = [pct(50), pct(75), pct(90), pct(99)];
  const base = {
    requests: Number(summary[1]),
    durationS: toMs(summary[2]!, summary[3]!) / 1000,
    requestsPerSec: Number(rate[1]),
    bytesRead: Math.round(Number(summary[4]) * byteUnits[summary[5]!]!),
    socketErrors: errors
      ? { connect: Number(errors[1]), read: Number(errors[2]), write: Number(errors[3]), timeout: Number(errors[4]) }
      : { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    latencyMeanMs: latency ? toMs(latency[1]!, latency[2]!) : NaN,
  };
  if (p50 === undefined || p75 === undefined || p90 === undefined || p99 === undefined) return base;
  return { ...base, percentilesMs: { p50, p75, p90, p99 } };
}

export async function runWrk(group: ProcessGroup, o: WrkOptions, placement: Placement = {}): Promise<WrkResult> {
  const r = await group.run('wrk', 'wrk', buildWrkArgs(o), (o.durationS + 20) * 1000, placement);
  if (r.timedOut) throw new Error(`wrk ${o.url} did not finish in ${o.durationS + 20} s`);
  if (r.code !== 0) throw new Error(`wrk ${o.url} exited with ${r.code}: ${r.stderr || r.stdout}`);
  return parseWrkOutput(r.stdout);
}

export function totalSocketErrors(r: WrkResult): number {
  const e = r.socketErrors;
  return e.connect + e.read + e.write + e.timeout;
}
