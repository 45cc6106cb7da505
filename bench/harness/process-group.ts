// ProcessGroup: every process a benchmark starts, each in a process group of its own (so nginx's
// workers go with their master), stopped together by stop(), by Ctrl-C or on a crash: a run
// leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly label: string;
  readonly pid: number;
  /** Where its stdout and stderr go. */
  readonly logPath: string;
  /** Resolves with the exit code, or the signal's name, once it has exited. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
}

export interface RunResult {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Where and how a process runs: the same policy is applied to both proxy pairs. */
export interface Placement {
  /** A CPU list for `taskset -c` (e.g. "0" or "2-3"); unset: wherever the scheduler puts it. */
  readonly cpus?: string | undefined;
}

export interface ProcessGroupOptions {
  /**
   * Nice value for every process started (also written to its session's autogroup: with
   * CONFIG_SCHED_AUTOGROUP each detached process is its own scheduling group, where a plain nice
   * value only ranks threads inside the group). Negative needs root; 0 leaves priorities alone.
   */
  readonly nice?: number;
}

interface Entry {
  readonly child: ChildProcess;
  readonly label: string;
  done: boolean;
  readonly exited: Promise<number | string>;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export class ProcessGroup {
  private readonly logDir: string;
  private readonly entries = new Map<number, Entry>();
  private readonly nice: number;

  constructor(logDir: string, opts: ProcessGroupOptions = {}) {
    this.logDir = logDir;
    this.nice = opts.nice ?? 0;
  }

  /** Starts a long-running process; its output goes to `<logDir>/<label>.log`. */
  start(label: string, command: string, args: readonly string[], placement: Placement = {}): ManagedProcess {
    const logPath = join(this.logDir, `${label}.log`);
    const fd = openSync(logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(...placed(command, args, placement), { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const entry = this.track(label, command, child);
    return { label, pid: entry.child.pid!, logPath, exited: entry.exited, hasExited: () => entry.done };
  }

  /** Runs a process to completion, killing its group after `timeoutMs`. */
  run(label: string, command: string, args: readonly string[], timeoutMs: number, placement: Placement = {}): Promise<RunResult> {
    const child = spawn(...placed(command, args, placement), { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const entry = this.track(label, command, child);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(entry.child.pid!, 'SIGKILL');
    }, timeoutMs);
    return new Promise((resolve) => {
      child.once('close', () => {
        clearTimeout(timer);
        void entry.exited.then((code) => resolve({ code, stdout, stderr, timedOut }));
      });
    });
  }

  /** SIGTERM to every group still running, SIGKILL to what is left after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    const live = [...this.entries.values()].filter((e) => !e.done);
    for (const e of live) killGroup(e.child.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => { timer = setTimeout(r, graceMs); });
    await Promise.race([Promise.all(live.map((e) => e.exited)), timeout]);
    clearTimeout(timer);
    const stuck = live.filter((e) => !e.done);
    for (const e of stuck) killGroup(e.child.pid!, 'SIGKILL');
    await Promise.all(stuck.map((e) => e.exited));
  }

  /** Last resort from a process 'exit' handler, where nothing asynchronous runs any more. */
  killAllNow(): void {
    for (const e of this.entries.values()) if (!e.done) killGroup(e.child.pid!, 'SIGKILL');
  }

  /** Labels of the processes still running (for leak checks). */
  running(): string[] {
    return [...this.entries.values()].filter((e) => !e.done).map((e) => e.label);
  }

  private track(label: string, command: string, child: ChildProcess): Entry {
    child.on('error', () => undefined); // spawn failures surface below, as a missing pid
    if (child.pid === undefined) throw new Error(`cannot start ${label} (${command}): not found or not executable`);
    const pid = child.pid;
    let resolveExit: (v: number | string) => void = () => undefined;
    const exited = new Promise<number | string>((resolve) => { resolveExit = resolve; });
    const entry: Entry = { child, label, done: false, exited };
    child.once('exit', (code, signal) => {
      entry.done = true;
      this.entries.delete(pid);
      resolveExit(code ?? signal ?? 'unknown');
    });
    this.entries.set(child.pid, entry);
    if (this.nice !== 0) prioritize(pid, this.nice);
    return entry;
  }
}

/** `taskset -c CPUS command args` (taskset execs the command: same pid, threads inherit the mask). */
function placed(command: string, args: readonly string[], p: Placement): [string, string[]] {
  return p.cpus === undefined ? [command, [...args]] : ['taskset', ['-c', p.cpus, command, ...args]];
}

/**
 * Gives a just-spawned process (its own session, so its own autogroup) the nice value: the
 * autogroup's, which ranks it against other sessions, and the task's own. Best effort.
 */
export function prioritize(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // No autogroup support or no permission: the task nice below still applies.
  }
  try {
    os.setPriority(pid, nice);
  } catch {
    // Not permitted (not root): run at the default priority.
  }
}

/** Waits until something accepts TCP connections on 127.0.0.1:port; fails early if `proc` exits. */
export async function waitForPort(port: number, timeoutMs: number, proc?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc?.hasExited()) throw new Error(`${proc.label} exited before listening on ${port} (see ${proc.logPath})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => { s.destroy(); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms${proc ? ` (see ${proc.logPath})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A port free on 127.0.0.1 right now (the kernel's pick): the tests' own helper. */
export { freePort } from '../../test/support/ports.js';
