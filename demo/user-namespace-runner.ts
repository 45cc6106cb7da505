// Both sides of `ambit demo` without root. Outside: runUserNamespaceDemo() re-runs the demo under
// unshare(1) in its own process group, forwards SIGINT/SIGTERM/SIGHUP to it and reports how it
// ended. Inside: enterDemoNamespace() gives `ip netns` and iptables a private /run (a tmpfs) and
// the demo a private temp folder, so nothing of the run is visible on, or left on, the host.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './find-executable.js';
import { unshareArgs } from './user-namespace.js';

/** The temp folder inside the namespace (on the private /run tmpfs). */
export const namespaceTmpDir = '/run/ambit-tmp';

/** True when /proc/self/uid_map shows a user namespace other than the initial one (whose map is the identity over all uids). */
export function inUserNamespace(uidMap: string): boolean {
  const rows = uidMap.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  return !(rows.length === 1 && rows[0] === '0 0 4294967295');
}

/**
 * Run first thing inside the namespace. `ip netns add` bind-mounts namespaces under /run/netns
 * (ip-netns(8)) and iptables-legacy locks /run/xtables.lock, both root-owned on the host, so a
 * fresh tmpfs goes over /run (and /var/run when it is not a link to /run). It refuses to touch
 * the mounts of the initial namespace.
 */
export function enterDemoNamespace(): { readonly ok: true; readonly tmpDir: string } | { readonly ok: false; readonly reason: string } {
  let uidMap = '';
  try {
    uidMap = readFileSync('/proc/self/uid_map', 'utf8');
  } catch (err) {
    return { ok: false, reason: `cannot read /proc/self/uid_map: ${(err as Error).message}` };
  }
  if (!inUserNamespace(uidMap)) return { ok: false, reason: 'not inside a user namespace: refusing to mount over /run of the host' };
  const mount = findExecutable('mount') ?? 'mount';
  const runDirs = ['/run'];
  try {
    if (realpathSync('/var/run') !== '/run') runDirs.push('/var/run');
  } catch {
    // no /var/run: nothing to cover there
  }
  for (const dir of runDirs) {
    const r = spawnSync(mount, ['-t', 'tmpfs', '-o', 'mode=0755', 'ambit-demo', dir], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) return { ok: false, reason: `mount -t tmpfs on ${dir} failed: ${(r.stderr ?? r.error?.message ?? '').trim()}` };
    mkdirSync(join(dir, 'netns'), { recursive: true });
  }
  mkdirSync(namespaceTmpDir, { recursive: true });
  chmodSync(namespaceTmpDir, 0o1777);
  return { ok: true, tmpDir: namespaceTmpDir };
}

export interface UserNamespaceRun {
  readonly unshare: string;
  readonly pidNamespace: boolean;
  /** The program and arguments to run inside (the demo again, marked as inside). */
  readonly command: string;
  readonly args: readonly string[];
  /** After this long the whole process group is killed (SIGKILL), should the inside hang. */
  readonly hardStopMs: number;
}

export interface UserNamespaceExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The signal this process received and passed on, if any. */
  readonly forwarded: NodeJS.Signals | undefined;
  /** Why unshare could not be started, if it could not. */
  readonly error?: string;
}

/** The exit code of a process that ended its run because of `signal` (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

const forwardedSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `command args` under unshare with stdio inherited, in a new process group: a terminal's
 * Ctrl-C reaches only this process, which passes it to the group (unshare itself blocks SIGINT
 * and SIGTERM while it waits, so the demo inside gets it and tears down). Resolves on exit.
 */
export function runUserNamespaceDemo(run: UserNamespaceRun): Promise<UserNamespaceExit> {
  return new Promise((resolve) => {
    // stdin is a pipe nobody writes to: when this process dies, even by SIGKILL, the inside reads
    // end-of-file and tears down (watchOutsideEnd).
    const child = spawn(run.unshare, [...unshareArgs(run.pidNamespace), '--', run.command, ...run.args], { stdio: ['pipe', 'inherit', 'inherit'], detached: true });
    child.stdin?.on('error', () => undefined);
    let forwarded: NodeJS.Signals | undefined;
    const toGroup = (signal: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    const onSignal = (signal: NodeJS.Signals): void => {
      forwarded ??= signal;
      toGroup(signal);
    };
    for (const s of forwardedSignals) process.on(s, onSignal);
    const hardStop = setTimeout(() => toGroup('SIGKILL'), run.hardStopMs);
    hardStop.unref();
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(hardStop);
      for (const s of forwardedSignals) process.off(s, onSignal);
      resolve({ code, signal, forwarded, ...(error === undefined ? {} : { error }) });
    };
    child.once('error', (err) => finish(null, null, `cannot start ${run.unshare}: ${err.message}`));
    child.once('exit', (code, signal) => {
      child.stdin?.destroy();
      finish(code, signal);
    });
  });
}

/** Inside: calls `onEnd` once the outside process is gone (stdin, its pipe, reaches end-of-file). */
export function watchOutsideEnd(stdin: NodeJS.ReadableStream, onEnd: () => void): void {
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  stdin.on('end', end);
  stdin.on('close', end);
  stdin.on('error', end);
  stdin.on('data', () => undefined);
}
