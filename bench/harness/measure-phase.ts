// measurePhase: runs one benchmark phase and accounts for every CPU second on the machine while it
// ran — the tracked processes, the harness itself, its reaped load generators, kernel threads, and
// what is left: other work on the machine ("background"). Used by every benchmark entry.
import type { Measured } from './hop-report.js';
import { cpuDelta, kernelThreadsCpuSeconds, readMachineCpu, reapedChildrenCpuSeconds, type ProcSampler } from './proc-sampler.js';

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Runs `run`, then waits `settleMs` (so the next phase starts on a quiet machine). */
export async function measurePhase<T>(sampler: ProcSampler, run: () => Promise<T>, settleMs: number): Promise<Measured<T>> {
  const before = { procs: sampler.cpu(), machine: readMachineCpu(), kernel: kernelThreadsCpuSeconds(), self: process.cpuUsage(), children: reapedChildrenCpuSeconds() };
  const t0 = performance.now();
  const result = await run();
  const wallS = (performance.now() - t0) / 1000;
  const procs = cpuDelta(before.procs, sampler.cpu());
  const machine = readMachineCpu();
  const kernelS = kernelThreadsCpuSeconds() - before.kernel;
  const selfUs = process.cpuUsage(before.self);
  const loadGenS = Math.max(0, reapedChildrenCpuSeconds() - before.children);
  const ours = Object.values(procs).reduce((a, b) => a + b, 0) + (selfUs.user + selfUs.system) / 1e6 + loadGenS;
  // Not clamped at 0: tick-sampled machine totals against per-process counters leave a few
  // hundredths of a core of noise either way.
  const backgroundCores = (machine.busy - before.machine.busy - ours - kernelS) / wallS;
  const stealCores = (machine.steal - before.machine.steal) / wallS;
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  return { result, cpu: { wallS, cpuS: procs, loadGenS: round3(loadGenS), kernelCores: round3(kernelS / wallS), backgroundCores: round3(backgroundCores), stealCores: round3(stealCores) } };
}
