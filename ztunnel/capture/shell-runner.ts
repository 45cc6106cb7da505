// ShellCommandRunner: runs the capture verify loop's `iptables-save` through one long-lived
// `/bin/sh` instead of a new child of ztunnel each second. Starting a child from Node forks the
// whole ztunnel process (page tables of 100+ MB): ~3 ms of ztunnel CPU per call, against ~0.2 ms
// for a line written to a small shell that forks instead (measured, bench/README.md).
// Commands with stdin input (iptables-restore, only when the rules change) go to `fallback`.
// Each command's stdout and stderr end with a marker line carrying its exit status; a command
// past its timeout kills the shell's process group, and the next command starts a new shell.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFileRunner, type CommandResult, type CommandRunner } from './command-runner.js';

export interface ShellCommandRunnerOptions {
  /** For commands with input, and when no shell can be started. Default: execFileRunner. */
  readonly fallback?: CommandRunner;
  /** Default /bin/sh. */
  readonly shell?: string;
}

const defaultTimeoutMs = 10_000;

/** `arg` as one single-quoted shell word. */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Pending {
  readonly resolve: (r: CommandResult) => void;
  readonly reject: (err: Error) => void;
  readonly marker: string;
  stdout: string;
  stderr: string;
  status: number | undefined;
  stderrDone: boolean;
  timer: NodeJS.Timeout;
}

export class ShellCommandRunner implements CommandRunner {
  private readonly fallback: CommandRunner;
  private readonly shell: string;
  private child: ChildProcess | undefined;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private readonly token = randomBytes(8).toString('hex');
  private closed = false;

  constructor(opts: ShellCommandRunnerOptions = {}) {
    this.fallback = opts.fallback ?? execFileRunner;
    this.shell = opts.shell ?? '/bin/sh';
  }

  run(file: string, args: readonly string[], opts: { readonly input?: string; readonly timeoutMs?: number } = {}): Promise<CommandResult> {
    if (opts.input !== undefined || this.closed) return this.fallback.run(file, args, opts);
    const result = this.queue.then(() => this.runInShell(file, args, opts.timeoutMs ?? defaultTimeoutMs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends the shell; later commands go to the fallback. */
  close(): void {
    this.closed = true;
    this.kill();
  }

  private runInShell(file: string, args: readonly string[], timeoutMs: number): Promise<CommandResult> {
    const child = this.child ?? this.start();
    if (!child) return this.fallback.run(file, args, { timeoutMs });
    const marker = `__ambit_${this.token}_${++this.seq}__`;
    return new Promise((resolve, reject) => {
      this.pending = {
        resolve, reject, marker, stdout: '', stderr: '', status: undefined, stderrDone: false,
        timer: setTimeout(() => this.settle({ exitCode: null }), timeoutMs),
      };
      // A missing program is 127 (126: not executable) from the shell: reported like a spawn error.
      const command = `${[file, ...args].map(shellQuote).join(' ')} </dev/null; printf '\\n%s %s\\n' ${marker} $?; printf '\\n%s\\n' ${marker} >&2\n`;
      child.stdin!.write(command);
    });
  }

  private start(): ChildProcess | undefined {
    let child: ChildProcess;
    try {
      // Its own process group, so a timeout kills a hung command along with the shell.
      child = spawn(this.shell, [], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch {
      return undefined;
    }
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin!.on('error', () => undefined);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => this.onStdout(d));
    child.stderr!.on('data', (d: string) => this.onStderr(d));
    const gone = (err?: Error): void => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.pending) {
        const p = this.pending;
        this.pending = undefined;
        clearTimeout(p.timer);
        p.reject(Object.assign(new Error(`${this.shell} ended: ${err?.message ?? 'exited'}`), { code: (err as NodeJS.ErrnoException | undefined)?.code ?? 'ESHELL' }));
      }
    };
    child.once('error', gone);
    child.once('exit', () => gone());
    this.child = child;
    return child;
  }

  private onStdout(d: string): void {
    const p = this.pending;
    if (!p) return;
    p.stdout += d;
    const at = p.stdout.indexOf(`\n${p.marker} `);
    if (at < 0) return;
    const lineEnd = p.stdout.indexOf('\n', at + 1);
    if (lineEnd < 0) return;
    p.status = Number(p.stdout.slice(at + p.marker.length + 2, lineEnd));
    p.stdout = p.stdout.slice(0, at);
    this.maybeDone();
  }

  private onStderr(d: string): void {
    const p = this.pending;
    if (!p) return;
    p.stderr += d;
    const at = p.stderr.indexOf(`\n${p.marker}\n`);
    if (at < 0) return;
    p.stderr = p.stderr.slice(0, at);
    p.stderrDone = true;
    this.maybeDone();
  }

  private maybeDone(): void {
    const p = this.pending;
    if (p && p.status !== undefined && p.stderrDone) this.settle({ exitCode: p.status });
  }

  private settle(r: { exitCode: number | null }): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    if (r.exitCode === null) this.kill();
    if (r.exitCode === 127 || r.exitCode === 126) {
      const code = r.exitCode === 127 ? 'ENOENT' : 'EACCES';
      p.reject(Object.assign(new Error(`${p.stderr.trim() || 'cannot run'} (${code})`), { code }));
      return;
    }
    p.resolve({ exitCode: r.exitCode, stdout: p.stdout, stderr: p.stderr });
  }

  private kill(): void {
    const child = this.child;
    this.child = undefined;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }
}
