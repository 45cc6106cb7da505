// ProcSampler: what a process costs, read from /proc. CPU seconds are utime+stime of the whole
// process (all threads) from /proc/PID/stat; memory is VmRSS from /proc/PID/status, sampled on
// an interval for its peak (VmHWM, the kernel's own peak, is kept beside it).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface TrackedProcess {
  /** A stable name for reports, e.g. `ambit-forward` or `nginx-client-worker`. */
  readonly label: string;
  readonly pid: number;
}

export interface MemoryPeak {
  /** Highest VmRSS seen by the sampler, in KiB. */
  readonly peakRssKb: number;
  /** VmHWM at the last sample, in KiB. */
  readonly hwmKb: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Fields of /proc/PID/stat after the `(comm)`, which may itself hold spaces or parentheses. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of the process in seconds, or undefined once it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  const f = statFields(pid);
  // Fields 14 and 15 of stat(5); f[0] is field 3 (state).
  if (!f || f[11] === undefined || f[12] === undefined) return undefined;
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

export function readMemoryKb(pid: number): { rssKb: number; hwmKb: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Direct children of `ppid` (nginx's workers), found by scanning /proc. */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(Number(name));
    if (f && Number(f[1]) === ppid) out.push(Number(name));
  }
  return out.sort((a, b) => a - b);
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/**
 * Machine-wide CPU time in seconds from the first line of /proc/stat: `busy` is user + nice +
 * system + irq + softirq. /proc/stat samples ticks, and a tick that lands in softirq work (most of
 * loopback TCP) counts as softirq, while a process's own utime + stime is scaled from its exact
 * run time and includes that work: only the sum of all busy columns compares with process CPU.
 * `steal` is time the hypervisor gave to other guests.
 */
export interface MachineCpu {
  readonly busy: number;
  readonly steal: number;
}

export function readMachineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const hz = clockTicks();
  const at = (i: number): number => f[i] ?? 0;
  return { busy: (at(0) + at(1) + at(2) + at(5) + at(6)) / hz, steal: at(7) / hz };
}

const PF_KTHREAD = 0x00200000;

/**
 * CPU seconds so far of every kernel thread (ksoftirqd, kworkers...). Under loopback load most of
 * it is network work done on the benchmark's behalf, so it is not counted as background load.
 */
export function kernelThreadsCpuSeconds(): number {
  let total = 0;
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    const f = statFields(Number(name));
    // f[6] is field 9, flags; f[11] and f[12] are utime and stime.
    if (!f || (Number(f[6]) & PF_KTHREAD) === 0) continue;
    total += Number(f[11]) + Number(f[12]);
  }
  return total / clockTicks();
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime + cstime).
 * Around a phase in which only the load generator exits, the difference is the load
 * generator's own CPU (wrk, the bulk client), all threads.
 */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields(process.pid);
  if (!f || f[13] === undefined || f[14] === undefined) return 0;
  return (Number(f[13]) + Number(f[14])) / clockTicks();
}

/** Share of all CPUs busy over `ms` (before a run: anything else competing for the machine). */
export async function machineBusyFraction(ms: number): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

export type CpuSnapshot = ReadonlyMap<string, number>;

export class ProcSampler {
  private readonly tracked: TrackedProcess[] = [];
  private readonly peaks = new Map<string, { peakRssKb: number; hwmKb: number }>();
  private timer: NodeJS.Timeout | undefined;

  track(p: TrackedProcess): void {
    this.tracked.push(p);
    this.sample();
  }

  /** Samples memory every `intervalMs` until stop(). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  memoryPeaks(): Record<string, MemoryPeak> {
    return Object.fromEntries(this.peaks);
  }

  /** CPU seconds so far of every tracked process. */
  cpu(): CpuSnapshot {
    const m = new Map<string, number>();
    for (const p of this.tracked) {
      const s = readCpuSeconds(p.pid);
      if (s !== undefined) m.set(p.label, s);
    }
    return m;
  }

  private sample(): void {
    for (const p of this.tracked) {
      const mem = readMemoryKb(p.pid);
      if (!mem || Number.isNaN(mem.rssKb)) continue;
      const prev = this.peaks.get(p.label);
      this.peaks.set(p.label, {
        peakRssKb: Math.max(prev?.peakRssKb ?? 0, mem.rssKb),
        hwmKb: Number.isNaN(mem.hwmKb) ? prev?.hwmKb ?? 0 : mem.hwmKb,
      });
    }
  }
}

/** CPU seconds each process used between two snapshots. */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, end] of after) out[label] = round3(end - (before.get(label) ?? end));
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
