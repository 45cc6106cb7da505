// Interop suites need programs from Debian packages. requiredTools() turns what is missing into a
// node:test skip reason naming the packages, except under CI (which installs them), where a
// missing tool is an error: a silently skipped interop tier would look green while testing nothing.
import { findExecutable } from '../../demo/find-executable.js';
import { spawnSync } from 'node:child_process';

export interface Requirement {
  /** What is needed, e.g. "nghttpx" or "the h2 module of /usr/bin/python3". */
  readonly what: string;
  readonly debianPackage: string;
  readonly present: () => boolean;
}

export { findExecutable };

export function executable(name: string, debianPackage: string): Requirement {
  return { what: name, debianPackage, present: () => findExecutable(name) !== undefined };
}

/** True when `python -c code` exits 0 within 10 s. */
export function pythonRuns(python: string, code: string): boolean {
  const r = spawnSync(python, ['-c', code], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/**
 * False when everything is present; otherwise a skip reason such as
 * "needs nghttpx (Debian package nghttp2-proxy)". Throws instead when the CI variable is set.
 */
export function requiredTools(requirements: readonly Requirement[]): string | false {
  const missing = requirements.filter((r) => !r.present());
  if (missing.length === 0) return false;
  const reason = `needs ${missing.map((r) => `${r.what} (Debian package ${r.debianPackage})`).join(', ')}`;
  if (process.env.CI) throw new Error(`interop test cannot run under CI: ${reason}`);
  return reason;
}
