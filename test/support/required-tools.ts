// Interop suites need programs from Debian packages. requiredTools() turns what is missing into a
// node:test skip reason naming the packages, except under CI (which installs them), where a
// missing tool is an error: a silently skipped interop tier would look green while testing nothing.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { spawnSync } from 'node:child_process';

export interface Requirement {
  /** What is needed, e.g. "nghttpx" or "the h2 module of /usr/bin/python3". */
  readonly what: string;
  readonly debianPackage: string;
  readonly present: () => boolean;
}

/** The executable's full path, looking in PATH and then in the sbin folders a non-root PATH lacks. */
export function findExecutable(name: string): string | undefined {
  // The only environment read in the tests besides CI below: where programs live.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

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
