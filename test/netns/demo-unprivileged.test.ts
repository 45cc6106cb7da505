// `ambit demo` without root: run as uid 65534 (setpriv), it re-runs itself in an unprivileged user
// namespace, passes its scenario and exits 0 — and leaves nothing on the host (no namespaces,
// links, iptables rules, processes or temp folders), also after Ctrl-C or SIGKILL. Where the kernel forbids
// unprivileged user namespaces (or unshare is missing) it must instead exit 2 saying what it needs,
// and the re-run role must refuse to mount anything outside a user namespace.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findExecutable } from '../../demo/find-executable.js';
import { ambitCli } from '../support/ambit-process.js';
import { netnsSkip } from '../support/netns.js';

const nobody = ['--reuid', '65534', '--regid', '65534', '--clear-groups'];
const examplesFile = new URL('../../../examples/demo/mesh.yaml', import.meta.url).pathname;
const runDemoFile = new URL('../../demo/run-demo.js', import.meta.url).pathname;

/** False when uid 65534 can run this checkout's demo; otherwise the skip reason, said plainly. */
function unprivilegedSkip(): string | false {
  const netns = netnsSkip();
  if (netns) return netns;
  const setpriv = findExecutable('setpriv');
  if (!setpriv) return 'needs setpriv (Debian package util-linux) to run the demo as uid 65534';
  // The CLI must load as that user, and the files the demo reads lazily must be readable.
  const help = spawnSync(setpriv, [...nobody, process.execPath, ambitCli, 'demo', '--help'], { encoding: 'utf8', cwd: '/', timeout: 20_000 });
  const read = spawnSync(setpriv, [...nobody, 'test', '-r', runDemoFile, '-a', '-r', examplesFile], { cwd: '/', timeout: 5000 });
  if (help.status !== 0 || read.status !== 0) {
    return `NOT TESTED: uid 65534 cannot read this checkout or run node from here (${process.execPath} ${ambitCli}): ${(help.stderr || 'examples/ or dist/demo/ unreadable').trim().split('\n')[0]}`;
  }
  return false;
}

const skip = unprivilegedSkip();

/** Whether uid 65534 may create a user namespace on this machine. */
function usernsAllowed(): boolean {
  return spawnSync('setpriv', [...nobody, 'unshare', '--user', '--map-root-user', '--net', '--mount', 'true'], { cwd: '/', timeout: 10_000 }).status === 0;
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
}

/** `ambit demo <args>` as uid 65534; `interruptOn` sends `signal` once that text appears. */
function demoAsNobody(args: readonly string[], interruptOn?: string, signal: NodeJS.Signals = 'SIGINT'): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn('setpriv', [...nobody, process.execPath, ambitCli, 'demo', ...args], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (c: Buffer): void => {
      out += c.toString('utf8');
      if (interruptOn && out.includes(interruptOn)) {
        interruptOn = undefined;
        child.kill(signal);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

/** Live (not zombie) processes of uid 65534, as `pid: cmdline`. */
function nobodyProcesses(): Set<string> {
  const found = new Set<string>();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      if (!/^Uid:\s+65534\s/m.test(status) || /^State:\s+Z/m.test(status)) continue;
      found.add(`${p}: ${readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

interface HostState {
  readonly namespaces: ReadonlySet<string>;
  readonly links: ReadonlySet<string>;
  readonly ambitRules: ReadonlySet<string>;
  readonly processes: ReadonlySet<string>;
  readonly tmpFolders: ReadonlySet<string>;
}

function ownerUid(path: string): number | undefined {
  try {
    return statSync(path).uid;
  } catch {
    return undefined;
  }
}

/** Whether a live process that is not uid 65534 made namespace `ns` (another run as root on this machine). */
function madeByOtherRun(ns: string): boolean {
  const pid = /^ab(\d+)-/.exec(ns)?.[1];
  return pid !== undefined && (ownerUid(`/proc/${pid}`) ?? 65534) !== 65534;
}

/**
 * The host as the demo could touch it. Other runs as root may share this machine, so what is
 * clearly theirs is left out: namespaces of their live processes, temp folders not owned by
 * 65534. Links are the demo's interface names (to-<node>, p-<pod>), which never belong in the
 * host namespace.
 */
function hostState(): HostState {
  const lines = (file: string, args: string[]): string[] => spawnSync(file, args, { encoding: 'utf8' }).stdout.split('\n');
  return {
    namespaces: new Set(lines('ip', ['netns', 'list']).map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '' && !madeByOtherRun(n))),
    links: new Set(lines('ip', ['-o', 'link', 'show']).map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '').filter((n) => /^(to|p)-/.test(n))),
    ambitRules: new Set(lines('iptables-save', []).filter((l) => l.includes('AMBIT'))),
    processes: nobodyProcesses(),
    tmpFolders: new Set(readdirSync(tmpdir()).filter((d) => d.startsWith('ambit-demo-') && ownerUid(join(tmpdir(), d)) === 65534)),
  };
}

/** What exists now on the host that did not before the run; processes get 5 s to finish tearing down. */
async function leftSince(before: HostState): Promise<Record<keyof HostState, string[]>> {
  const diff = (): Record<keyof HostState, string[]> => {
    const now = hostState();
    const added = (k: keyof HostState): string[] => [...now[k]].filter((x) => !before[k].has(x));
    return { namespaces: added('namespaces'), links: added('links'), ambitRules: added('ambitRules'), processes: added('processes'), tmpFolders: added('tmpFolders') };
  };
  let d = diff();
  for (let i = 0; i < 100 && d.processes.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    d = diff();
  }
  return d;
}

const nothing = { namespaces: [], links: [], ambitRules: [], processes: [], tmpFolders: [] };

describe('ambit demo as an unprivileged user', { skip, timeout: 120_000 }, () => {
  it('runs in its own user namespace, passes and leaves nothing on the host — also after Ctrl-C or a SIGKILL — or, where forbidden, says what it needs', async (t) => {
    const before = hostState();
    if (!usernsAllowed()) {
      t.diagnostic('unprivileged user namespaces are forbidden here: testing the refusal');
      const r = await demoAsNobody(['--check', '--scenario', 'canary', '--duration', '20']);
      assert.equal(r.code, 2, r.out);
      assert.match(r.out, /needs one of:\n {2}root: sudo/);
      assert.deepEqual(await leftSince(before), nothing);
      return;
    }
    const run = await demoAsNobody(['--check', '--scenario', 'canary', '--duration', '20']);
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /running in an unprivileged user namespace/);
    assert.match(run.out, /PASS +canary /);
    assert.match(run.out, /result OK/);
    assert.deepEqual(await leftSince(before), nothing);

    const interrupted = await demoAsNobody(['--check', '--scenario', 'canary', '--duration', '20'], 'mesh up');
    assert.equal(interrupted.signal, 'SIGINT', interrupted.out);
    assert.match(interrupted.out, /mesh up/);
    assert.deepEqual(await leftSince(before), nothing);

    // The outside process killed outright: the inside sees its stdin close and tears down.
    const killed = await demoAsNobody(['--check', '--scenario', 'canary', '--duration', '20'], 'mesh up', 'SIGKILL');
    assert.equal(killed.signal, 'SIGKILL', killed.out);
    assert.deepEqual(await leftSince(before), nothing);
  });
});

describe('ambit demo refusals around the user namespace', { skip, timeout: 30_000 }, () => {
  it('exits 2 naming root and util-linux when uid 65534 has no unshare to run', async () => {
    const before = hostState();
    const r = spawnSync('setpriv', [...nobody, 'env', 'PATH=/nonexistent', process.execPath, ambitCli, 'demo', '--check', '--duration', '20'], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /needs one of:\n {2}root: sudo npm start -- demo.*\n {2}or: the unshare program \(Debian package util-linux\)/);
    assert.deepEqual(await leftSince(before), nothing);
  });

  it('refuses the inside role outside a user namespace instead of mounting over /run', () => {
    // Run as root in a throwaway mount namespace: should the guard ever break, the host's /run is safe.
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', process.execPath, ambitCli, 'demo', '--in-user-namespace', '--duration', '20'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /not inside a user namespace: refusing to mount over \/run/);
  });
});
