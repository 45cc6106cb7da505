// CommandRunner: how CaptureRules runs iptables-save / iptables-restore — execFile with no shell in
// production, a fake in unit tests, `ip netns exec` in the netns tier.
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** The exit code; null when the process was killed (e.g. at the timeout). */
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandRunner {
  /**
   * Runs `file args` with `input` on stdin. Resolves with any exit code; rejects only when the
   * program could not be started (the error's `code` is then e.g. ENOENT or EACCES).
   */
  run(file: string, args: readonly string[], opts?: { readonly input?: string; readonly timeoutMs?: number }): Promise<CommandResult>;
}

const defaultTimeoutMs = 10_000;

export const execFileRunner: CommandRunner = {
  run(file, args, opts = {}) {
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        [...args],
        { timeout: opts.timeoutMs ?? defaultTimeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
            reject(err);
            return;
          }
          const exitCode = err ? (typeof err.code === 'number' ? err.code : null) : 0;
          resolve({ exitCode, stdout, stderr });
        },
      );
      // A program that exits before reading its input closes the pipe: that is its exit code's story.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input ?? '');
    });
  },
};
