// Which way `ambit demo` gets the privileges its mesh needs: run directly as root, re-run itself
// inside an unprivileged user namespace (`unshare --user --map-root-user --net --mount`, see
// user_namespaces(7)), or refuse and name exactly what is missing. buildDemoPath() decides from
// probed facts; probeDemoPrivilege() gathers them on this machine.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findExecutable } from './find-executable.js';

/** The outcome of one `unshare … true` trial. */
export interface UnshareTrial {
  readonly ok: boolean;
  /** Its stderr, trimmed (why the kernel said no). */
  readonly error: string;
}

/** What buildDemoPath() decides from; every field is a fact read or tried on the machine. */
export interface DemoPrivilegeProbe {
  readonly platform: string;
  readonly uid: number | undefined;
  /** Path of unshare(1) (util-linux), if installed. */
  readonly unshare: string | undefined;
  /** `unshare` with a PID namespace as well (everything dies with its first process); undefined if not tried. */
  readonly withPidNamespace: UnshareTrial | undefined;
  /** `unshare` with user, network and mount namespaces only; undefined if not tried. */
  readonly plain: UnshareTrial | undefined;
  /** Contents of the sysctls that gate unprivileged user namespaces; undefined where absent. */
  readonly sysctls: {
    /** Debian/Ubuntu kernels: 0 forbids them. */
    readonly unprivilegedUsernsClone: string | undefined;
    /** 0 forbids every new user namespace. */
    readonly maxUserNamespaces: string | undefined;
    /** Ubuntu 23.10+: 1 lets only AppArmor-profiled programs create them. */
    readonly apparmorRestrictUnprivilegedUserns: string | undefined;
  };
}

export type DemoPath =
  | { readonly kind: 'direct' }
  | { readonly kind: 'user-namespace'; readonly pidNamespace: boolean }
  | { readonly kind: 'refuse'; readonly reason: string; readonly needs: readonly string[] };

const asRoot = 'root: sudo npm start -- demo (or sudo ambit demo)';

/** The path `ambit demo` takes on a machine described by `p`; never throws. */
export function buildDemoPath(p: DemoPrivilegeProbe): DemoPath {
  if (p.platform !== 'linux') return { kind: 'refuse', reason: `needs Linux network namespaces (platform ${p.platform})`, needs: ['Linux'] };
  if (p.uid === 0) return { kind: 'direct' };
  if (p.unshare !== undefined && p.withPidNamespace?.ok === true) return { kind: 'user-namespace', pidNamespace: true };
  if (p.unshare !== undefined && p.plain?.ok === true) return { kind: 'user-namespace', pidNamespace: false };
  const who = `running as uid ${p.uid ?? 'unknown'}`;
  if (p.unshare === undefined) {
    return { kind: 'refuse', reason: `needs root, or unshare(1) to run in a user namespace (${who}; unshare not found)`, needs: [asRoot, 'or: the unshare program (Debian package util-linux)'] };
  }
  const { unprivilegedUsernsClone: clone, maxUserNamespaces: max, apparmorRestrictUnprivilegedUserns: apparmor } = p.sysctls;
  const sysctls: string[] = [];
  if (clone === '0') sysctls.push('kernel.unprivileged_userns_clone=1');
  if (max === '0') sysctls.push('user.max_user_namespaces=15000');
  if (apparmor === '1') sysctls.push('kernel.apparmor_restrict_unprivileged_userns=0');
  const tried = p.plain?.error || p.withPidNamespace?.error || 'not tried';
  if (sysctls.length > 0) {
    return {
      kind: 'refuse',
      reason: `needs root, or unprivileged user namespaces, which this kernel forbids (${who}; ${sysctls.map((s) => s.replace(/=.*/, '')).join(', ')} forbid them)`,
      needs: [asRoot, `or: allow unprivileged user namespaces: sudo sysctl -w ${sysctls.join(' ')}`],
    };
  }
  return {
    kind: 'refuse',
    reason: `needs root, or unprivileged user namespaces, which failed here (${who}): unshare --user --map-root-user --net --mount: ${tried}`,
    needs: [asRoot, 'or: a kernel and container runtime that allow unprivileged user namespaces (a container may need --security-opt seccomp=unconfined or similar)'],
  };
}

/** unshare(1) arguments before the command: a user namespace mapping this uid to root, with its own network, mounts (private) and, if asked, PIDs. */
export function unshareArgs(pidNamespace: boolean): string[] {
  const args = ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private'];
  // --kill-child: if unshare itself dies, its child (PID 1 of the namespace) and so everything in it dies too.
  if (pidNamespace) args.push('--pid', '--fork', '--kill-child', '--mount-proc');
  return args;
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function trial(unshare: string, pidNamespace: boolean): UnshareTrial {
  const r = spawnSync(unshare, [...unshareArgs(pidNamespace), 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { ok: false, error: r.error.message };
  return { ok: r.status === 0, error: r.stderr.trim() || (r.status === 0 ? '' : `exit ${r.status ?? r.signal}`) };
}

/** Gathers the facts buildDemoPath() needs; tries unshare only when not root. */
export function probeDemoPrivilege(): DemoPrivilegeProbe {
  const uid = process.getuid?.();
  const unshare = findExecutable('unshare');
  const tryIt = process.platform === 'linux' && uid !== 0 && unshare !== undefined;
  const withPidNamespace = tryIt ? trial(unshare, true) : undefined;
  const plain = tryIt && withPidNamespace?.ok !== true ? trial(unshare, false) : undefined;
  return {
    platform: process.platform,
    uid,
    unshare,
    withPidNamespace,
    plain,
    sysctls: {
      unprivilegedUsernsClone: readSysctl('/proc/sys/kernel/unprivileged_userns_clone'),
      maxUserNamespaces: readSysctl('/proc/sys/user/max_user_namespaces'),
      apparmorRestrictUnprivilegedUserns: readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns'),
    },
  };
}
