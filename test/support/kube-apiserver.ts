// A real Kubernetes API server for the kube tier: kube-apiserver v1.20.2 + Debian's etcd on loopback,
// started by ../shared/k8s/start-apiserver.sh into a temporary state dir. Owns every process it
// starts (one process group per script run, plus a watchdog per group) and removes them on stop().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { findExecutable } from './required-tools.js';

export interface ApiServer {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** The state dir (etcd data, certs, logs, kubeconfig); removed by stop(). */
  readonly stateDir: string;
  readonly kubeconfigPath: string;
  /** Loaded from kubeconfigPath; stays valid across restart() (same token, same serving cert). */
  readonly kubeConfig: KubeConfig;
  /** Signals the kube-apiserver only (etcd keeps running) and waits until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts kube-apiserver again on the same port and state dir, against the etcd that kept running. */
  restart(): Promise<void>;
  /** Kills every process this server started and removes the state dir; safe to call twice. */
  stop(): Promise<void>;
  /** Processes this server started that are still alive (etcd, kube-apiserver), for leak checks. */
  pids(): number[];
}

// Compiled to dist/test/support/, so the repository root is three folders up; shared/ lies beside it.
const repoRoot = new URL('../../../', import.meta.url).pathname;
const k8sDir = join(repoRoot, '..', 'shared', 'k8s');
const startScript = join(k8sDir, 'start-apiserver.sh');
// Passed to the script as K8S_BIN so both agree where the unpacked binaries live.
const binDir = join(homedir(), '.cache', 'ambit-k8s-1.20.2');
const binaries = ['kube-apiserver', 'kube-controller-manager'] as const;
const startTimeoutMs = 90_000;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * False when the API server can start; otherwise a node:test skip reason naming what is missing.
 * Throws instead when the CI variable is set: a skipped kube tier would look green while testing nothing.
 */
export function apiServerUnavailable(): string | false {
  const missing: string[] = [];
  if (!existsSync(startScript)) missing.push(`${startScript} (the shared/ folder beside the repository)`);
  const unpacked = binaries.every((b) => isExecutable(join(binDir, b)));
  if (!unpacked) {
    for (const b of binaries) if (!existsSync(join(k8sDir, `${b}.xz`))) missing.push(`${join(k8sDir, b)}.xz`);
    if (!findExecutable('xz')) missing.push('xz (Debian package xz-utils)');
  }
  for (const [tool, pkg] of [['etcd', 'etcd-server'], ['curl', 'curl'], ['openssl', 'openssl'], ['bash', 'bash']] as const) {
    if (!findExecutable(tool)) missing.push(`${tool} (Debian package ${pkg})`);
  }
  if (missing.length === 0) return false;
  const reason = `kube-apiserver harness needs ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(`kube tier cannot run under CI: ${reason}`);
  return reason;
}

/** Unpacks the binaries under a per-process name and renames them into place, so parallel test files cannot collide. */
function unpackBinaries(): void {
  mkdirSync(binDir, { recursive: true });
  for (const b of binaries) {
    const dest = join(binDir, b);
    if (isExecutable(dest)) continue;
    const tmp = `${dest}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    const r = spawnSync('xz', ['-dc', join(k8sDir, `${b}.xz`)], { stdio: ['ignore', fd, 'pipe'] });
    closeSync(fd);
    if (r.status !== 0) {
      unlinkSync(tmp);
      throw new Error(`unpacking ${b}.xz failed: ${r.stderr?.toString() ?? r.error?.message}`);
    }
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A port for the API server such that it, etcd's client port (+10000) and peer port (+10001) are
 * free. Kept below the kernel's ephemeral range (32768+) so outgoing connections do not take them.
 */
async function choosePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 12_000 + Math.floor(Math.random() * 10_000);
    if ((await canListen(port)) && (await canListen(port + 10_000)) && (await canListen(port + 10_001))) return port;
  }
  throw new Error('no free loopback port triple for kube-apiserver and etcd');
}

/** Alive means present in /proc and not a zombie (orphans are reaped by pid 1, which may never do it). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitDead(pids: readonly number[], timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > end) throw new Error(`${what} (pids ${pids.filter(alive).join(', ')}) still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Live processes whose command line contains `text` (e.g. a state dir), for leak checks. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text) && alive(Number(name))) found.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function readPid(stateDir: string, name: string): number | undefined {
  try {
    return Number(readFileSync(join(stateDir, `${name}.pid`), 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function logTail(stateDir: string, name: string): string {
  try {
    return readFileSync(join(stateDir, name), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A process group (the script and what it backgrounds) and the watchdog that kills it if we die. */
interface Group {
  readonly pgid: number;
  readonly watchdog: ChildProcess;
}

export async function startApiServer(): Promise<ApiServer> {
  const reason = apiServerUnavailable();
  if (reason) throw new Error(reason);
  unpackBinaries();
  const stateDir = mkdtempSync(join(tmpdir(), 'ambit-kube-'));
  const groups: Group[] = [];
  const started: number[] = [];
  let apiserverPid: number | undefined;
  let etcdPid: number | undefined;
  let stopped = false;

  const killGroups = (): void => {
    for (const g of groups) {
      g.watchdog.kill('SIGKILL');
      try {
        process.kill(-g.pgid, 'SIGKILL');
      } catch {
        // group already gone
      }
    }
  };
  // Safety net for a test process that exits without stop(); the watchdogs cover a signal death.
  const onExit = (): void => {
    killGroups();
    rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.on('exit', onExit);

  // Runs the script in its own process group. On restart a no-op `etcd` comes first on PATH: the
  // script always starts etcd, and a second one on the same data dir must not race the first.
  const runScript = async (port: number, keepEtcd: boolean): Promise<void> => {
    const env: NodeJS.ProcessEnv = { ...process.env, K8S_BIN: binDir, WITH_KCM: '0' };
    if (keepEtcd) {
      const shimDir = join(stateDir, 'restart-shim');
      mkdirSync(shimDir, { recursive: true });
      writeFileSync(join(shimDir, 'etcd'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
      env.PATH = `${shimDir}:${process.env.PATH ?? ''}`;
    }
    for (const name of keepEtcd ? ['apiserver'] : ['apiserver', 'etcd']) rmSync(join(stateDir, `${name}.pid`), { force: true });
    const child = spawn('bash', [startScript, stateDir, String(port)], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    if (child.pid === undefined) throw new Error('could not spawn bash for start-apiserver.sh');
    // The watchdog sits outside the group, ignores terminal signals, and kills the group once its
    // stdin closes: when stop() is skipped because this process died, even by SIGKILL.
    const watchdog = spawn('sh', ['-c', 'trap "" INT TERM HUP; cat >/dev/null; kill -9 -"$1" 2>/dev/null; sleep 0.2; rm -rf "$2"', 'ambit-kube-watchdog', String(child.pid), stateDir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    watchdog.unref();
    (watchdog.stdin as net.Socket | null)?.unref();
    const group = { pgid: child.pid, watchdog };
    groups.push(group);
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', () => resolve(-1));
      child.once('exit', (code) => resolve(code));
    });
    let code: number | null | undefined;
    void exited.then((c) => (code = c));
    const end = Date.now() + startTimeoutMs;
    // The script polls /readyz for 60 s even when kube-apiserver or etcd died at once; fail fast instead.
    let died: string | undefined;
    while (code === undefined && died === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      for (const name of keepEtcd ? ['apiserver'] : ['apiserver', 'etcd']) {
        const pid = readPid(stateDir, name);
        if (pid !== undefined && !alive(pid) && code === undefined) died = `${name} exited:\n${logTail(stateDir, `${name}.log`)}`;
      }
    }
    if (code !== 0 || !output.includes('apiserver ready')) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
      watchdog.kill('SIGKILL');
      groups.splice(groups.indexOf(group), 1);
      throw new Error(`start-apiserver.sh failed (${died ?? `exit ${code ?? 'timeout'}`}):\n${output}\n${died ? '' : logTail(stateDir, 'apiserver.log')}`);
    }
    apiserverPid = readPid(stateDir, 'apiserver');
    if (apiserverPid !== undefined) started.push(apiserverPid);
    // The restart shim overwrote etcd.pid; keep it naming the etcd that is really running.
    if (keepEtcd && etcdPid !== undefined) writeFileSync(join(stateDir, 'etcd.pid'), `${etcdPid}\n`);
    else etcdPid = readPid(stateDir, 'etcd');
    if (!keepEtcd && etcdPid !== undefined) started.push(etcdPid);
  };

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await choosePort();
      try {
        await runScript(port, false);
        break;
      } catch (err) {
        // Another process may have taken one of the ports between the check and the bind.
        if (attempt >= 3 || !String(err).includes('address already in use')) throw err;
        rmSync(join(stateDir, 'etcd'), { recursive: true, force: true });
      }
    }
  } catch (err) {
    onExit();
    process.off('exit', onExit);
    throw err;
  }

  const kubeconfigPath = join(stateDir, 'kubeconfig');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (apiserverPid === undefined || !alive(apiserverPid)) return;
    process.kill(apiserverPid, signal);
    // A SIGTERM shuts down gracefully, draining requests and watches.
    await waitDead([apiserverPid], signal === 'SIGKILL' ? 5_000 : 60_000, 'kube-apiserver');
  };

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    stateDir,
    kubeconfigPath,
    kubeConfig,
    kill,
    restart: async () => {
      if (stopped) throw new Error('restart() after stop()');
      await kill('SIGKILL');
      await runScript(port, true);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      killGroups();
      await waitDead(started, 10_000, 'kube-apiserver/etcd');
      rmSync(stateDir, { recursive: true, force: true, maxRetries: 3 });
      process.off('exit', onExit);
    },
    pids: () => started.filter(alive),
  };
}
