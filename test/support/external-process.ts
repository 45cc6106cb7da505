// External processes for interop tests: runProcess() for a one-shot client (stdin in, stdout and
// stderr out, killed at a deadline) and startProcess() for a long-running peer whose stop() only
// resolves once the process has exited, so a suite's after() leaves nothing running.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ProcessResult {
  /** Exit code, or null when the process died from a signal (e.g. killed at the deadline). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs `file args`, writes `input` (if any) to its stdin then closes it, and waits for exit. */
export function runProcess(file: string, args: readonly string[], opts: { input?: Buffer; timeoutMs: number }): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    // A client that exits before reading all its input (e.g. refused by the server) closes the pipe.
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8'), timedOut });
    });
    child.stdin.end(opts.input ?? Buffer.alloc(0));
  });
}

export interface ExternalProcess {
  readonly pid: number | undefined;
  /** Set once the process has exited (on its own or through stop()). */
  exitReason(): string | undefined;
  /** The last 64 KiB of its stdout and stderr, for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const maxOutputChars = 64 * 1024;

export function startProcess(file: string, args: readonly string[]): ExternalProcess {
  const child: ChildProcess = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exitReason: string | undefined;
  const collect = (c: Buffer): void => {
    output = (output + c.toString('utf8')).slice(-maxOutputChars);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  // Safety net for a test process that dies without running its after(): take the peer along.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      exitReason = `failed to start: ${err.message}`;
      process.off('exit', killOnExit);
      resolve();
    });
    child.once('exit', (code, signal) => {
      exitReason = signal ? `killed by ${signal}` : `exited with code ${code}`;
      process.off('exit', killOnExit);
      resolve();
    });
  });
  return {
    pid: child.pid,
    exitReason: () => exitReason,
    output: () => output,
    stop: async (graceMs = 3000) => {
      if (exitReason === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      child.stdout?.destroy();
      child.stderr?.destroy();
    },
  };
}
