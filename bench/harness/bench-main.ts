// runLoopbackBench(): the lifecycle the loopback benchmarks (hbone-hop.ts, waypoint-hop.ts) share —
// a temp work folder with logs/, the run's priority (inherited by every process it starts), one
// ProcessGroup and ProcSampler, and a shutdown that stops every process on success, failure,
// SIGINT/SIGTERM/SIGHUP and exit, then removes the folder (kept on failure or when asked).
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { prioritize, ProcessGroup } from './process-group.js';
import { ProcSampler } from './proc-sampler.js';

export interface LoopbackBenchOptions {
  /** Prefix of the temp work folder. */
  readonly tmpPrefix: string;
  readonly nice: number;
  readonly keepTemp: boolean;
}

export async function runLoopbackBench(o: LoopbackBenchOptions, run: (group: ProcessGroup, sampler: ProcSampler, workDir: string) => Promise<void>): Promise<void> {
  const workDir = await mkdtemp(join(os.tmpdir(), o.tmpPrefix));
  await mkdir(join(workDir, 'logs'));
  // Every process of the run inherits this priority; the process group also sets it on each one's autogroup.
  if (o.nice !== 0) prioritize(process.pid, o.nice);
  const group = new ProcessGroup(join(workDir, 'logs'), { nice: o.nice });
  const sampler = new ProcSampler();
  let failed = false;
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (stopping ??= (async () => {
    sampler.stop();
    await group.stop(8000);
    const left = group.running();
    if (left.length > 0) process.stderr.write(`still running after stop: ${left.join(', ')}\n`);
    if (failed || o.keepTemp) process.stderr.write(`work directory kept: ${workDir} (logs in ${join(workDir, 'logs')})\n`);
    else await rm(workDir, { recursive: true, force: true });
  })());
  process.on('exit', () => group.killAllNow());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping every process this benchmark started\n`);
      interrupted = true;
      void shutdown().finally(() => process.exit(130));
    });
  }
  try {
    await run(group, sampler, workDir);
  } catch (err) {
    if (!interrupted) {
      failed = true;
      process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  } finally {
    await shutdown();
  }
}
