// Network-namespace plumbing shared by the demo (`ambit demo`) and the netns test tier: running
// `ip`, listing namespaces, whether this machine can build a Topology at all (and the exact reason
// it cannot), and sweeping namespaces left by runs that died by SIGKILL.
import { spawnSync } from 'node:child_process';
import { findExecutable } from './find-executable.js';
export type NetnsSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface ExecResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Every Topology namespace is `ab<pid>-<n>-<name>`. */
export const stalePattern = /^ab(\d+)-/;

export function ipTool(): string {
  return findExecutable('ip') ?? 'ip';
}

export function run(file: string, args: readonly string[]): ExecResult {
  const r = spawnSync(file, [...args], { encoding: 'utf8', timeout: 15_000 });
  if (r.error) return { exitCode: null, stdout: '', stderr: r.error.message };
  return { exitCode: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function mustRun(file: string, args: readonly string[]): string {
  const r = run(file, args);
  if (r.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout;
}

export function listNamespaces(): string[] {
  const r = run(ipTool(), ['netns', 'list']);
  if (r.exitCode !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

let support: NetnsSupport | undefined;

/** Whether this machine can run the netns tier, or the exact reason it cannot. Cached. */
export function netnsSupport(): NetnsSupport {
  support ??= probeSupport();
  return support;
}

function probeSupport(): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux network namespaces (platform ${process.platform})` };
  const uid = process.getuid?.();
  if (uid !== 0) return { ok: false, reason: `needs root for network namespaces and iptables (running as uid ${uid})` };
  const missing = [
    ['ip', 'iproute2'],
    ['iptables-save', 'iptables'],
    ['iptables-restore', 'iptables'],
  ].filter(([tool]) => !findExecutable(tool ?? ''));
  if (missing.length > 0) return { ok: false, reason: `needs ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(', ')}` };
  const probe = `ab${process.pid}-probe`;
  const ip = ipTool();
  const add = run(ip, ['netns', 'add', probe]);
  if (add.exitCode !== 0) return { ok: false, reason: `cannot create a network namespace (ip netns add): ${add.stderr.trim()}` };
  try {
    const veth = run(ip, ['-n', probe, 'link', 'add', 'name', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    if (veth.exitCode !== 0) return { ok: false, reason: `cannot create a veth pair in a network namespace: ${veth.stderr.trim()}` };
    const nat = run(ip, ['netns', 'exec', probe, 'iptables-save', '-t', 'nat']);
    if (nat.exitCode !== 0) return { ok: false, reason: `iptables cannot read the nat table in a network namespace: ${nat.stderr.trim()}` };
  } finally {
    run(ip, ['netns', 'del', probe]);
  }
  return { ok: true };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces left by runs whose process is gone (killed with SIGKILL); returns their names. */
export function sweepStaleNamespaces(): string[] {
  const swept: string[] = [];
  for (const ns of listNamespaces()) {
    const m = stalePattern.exec(ns);
    if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
    // Processes still inside it keep it alive; kill them first (`ip netns pids`).
    const pids = run(ipTool(), ['netns', 'pids', ns]).stdout.split('\n').filter((p) => /^\d+$/.test(p));
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (run(ipTool(), ['netns', 'del', ns]).exitCode === 0) swept.push(ns);
  }
  return swept;
}

