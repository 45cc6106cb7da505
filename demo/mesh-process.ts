// AmbitProcess: the real `ambit` CLI (dist/cli/ambit.js) run inside a namespace of a Topology,
// with its JSON log lines (pino, on stdout) kept in memory so a test can wait for a message and
// read the access log, and its exit code and signal recorded.
import { createInterface } from 'node:readline';
import type { NetnsProcess, Topology } from './netns-topology.js';

// Compiled to dist/demo/; the CLI is dist/cli/ambit.js.
export const ambitCli = new URL('../cli/ambit.js', import.meta.url).pathname;

export type LogLine = Record<string, unknown>;

const maxLines = 20_000;

export class AmbitProcess {
  readonly name: string;
  readonly logs: LogLine[] = [];
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>;
  private readonly proc: NetnsProcess;
  private readonly text: string[] = [];
  /** Log lines dropped from the front of `logs` (it keeps the last 20 000). */
  private dropped = 0;
  private readonly watchers = new Set<() => void>();

  private constructor(name: string, proc: NetnsProcess) {
    this.name = name;
    this.proc = proc;
    this.exited = new Promise((resolve) => {
      proc.child.once('exit', (code, signal) => {
        resolve({ code, signal });
        for (const w of this.watchers) w();
      });
    });
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.text.push(line);
      }
      if (this.logs.length > maxLines) this.dropped += this.logs.splice(0, this.logs.length - maxLines).length;
      for (const w of this.watchers) w();
    });
  }

  /** Starts `ambit <args>` inside `ns`. */
  static start(topology: Topology, ns: string, name: string, args: readonly string[]): AmbitProcess {
    return new AmbitProcess(name, topology.spawn(ns, process.execPath, [ambitCli, ...args]));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  exitReason(): string | undefined {
    return this.proc.exitReason();
  }

  /** A position in the log: pass it as `since` to look only at lines logged after this call. */
  mark(): number {
    return this.dropped + this.logs.length;
  }

  /** Log lines with this `msg` (and matching `pred`), logged after `since` (a mark()). */
  find(msg: string, pred: (l: LogLine) => boolean = () => true, since = 0): LogLine[] {
    return this.logs.slice(Math.max(0, since - this.dropped)).filter((l) => l['msg'] === msg && pred(l));
  }

  /**
   * Waits for a log line logged after `since` (a mark()); fails with the process's last output if
   * it exits or `timeoutMs` passes.
   */
  waitForLog(msg: string, timeoutMs: number, pred: (l: LogLine) => boolean = () => true, since = 0): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const hit = this.find(msg, pred, since)[0];
        if (hit) return done(() => resolve(hit));
        const exit = this.proc.exitReason();
        if (exit !== undefined) done(() => reject(new Error(`${this.name} ${exit} before logging "${msg}":\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`${this.name} did not log "${msg}" within ${timeoutMs} ms:\n${this.tail()}`))), timeoutMs);
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
        f();
      };
      this.watchers.add(check);
      check();
    });
  }

  /** SIGTERM (or `signal`) to the process itself. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.proc.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs = 5000): Promise<void> {
    return this.proc.stop(graceMs);
  }

  /** The last 64 KiB of its stderr. */
  stderr(): string {
    return this.proc.stderr();
  }

  /** The last lines of its output (log messages, stderr), for failure messages. */
  tail(lines = 25): string {
    const logs = this.logs.slice(-lines).map((l) => JSON.stringify(l));
    const stderr = this.proc.stderr().split('\n').slice(-lines).join('\n');
    return [...this.text.slice(-5), ...logs, stderr ? `stderr: ${stderr}` : ''].filter((s) => s !== '').join('\n');
  }
}
