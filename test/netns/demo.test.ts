// `ambit demo --check` as a user runs it: the real CLI as a child process builds the mesh, runs
// every scenario and exits 0 only if every verdict held; afterwards nothing of it is left (no
// namespaces with its prefix, no processes, no temp folder) — also after Ctrl-C — and a run right
// after works again.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ambitCli } from '../support/ambit-process.js';
import { netnsSkip } from '../support/netns.js';

const skip = netnsSkip();
const scenarioNames = ['canary', 'header-routing', 'denied', 'fault', 'strict'];

interface Run {
  readonly pid: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly out: string;
}

/** Runs `ambit demo <args>`; `interruptOn` sends SIGINT once that text appears on stdout. */
function demo(args: readonly string[], interruptOn?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [ambitCli, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (c: Buffer): void => {
      out += c.toString('utf8');
      if (interruptOn && out.includes(interruptOn)) {
        interruptOn = undefined;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('exit', (code, signal) => resolve({ pid: child.pid ?? -1, code, signal, out }));
  });
}

/** What a finished run left behind: its namespaces, processes of the demo, its temp folders. */
function leftovers(run: Run, tmpBefore: ReadonlySet<string>): { namespaces: string[]; processes: string[]; folders: string[] } {
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith(`ab${run.pid}-`));
  const processes: string[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    // This checkout's sample apps run only in the demo; its ambit processes read files in a demo
    // temp folder. (Demos of other checkouts running at the same time are not ours to count.)
    if (cmd.includes(sampleApp) || (cmd.includes(ambitCli) && cmd.includes('ambit-demo-'))) processes.push(`${p}: ${cmd}`);
  }
  const folders = readdirSync(tmpdir()).filter((d) => d.startsWith('ambit-demo-') && !tmpBefore.has(d));
  return { namespaces, processes, folders };
}

const sampleApp = fileURLToPath(new URL('../../demo/sample-app.js', import.meta.url));
const none = { namespaces: [], processes: [], folders: [] };

describe('ambit demo --check, end to end', { skip, timeout: 150_000 }, () => {
  it('passes every scenario, names each with a verdict, leaves nothing behind — also after Ctrl-C — and runs again right after', async () => {
    const tmpBefore = new Set(readdirSync(tmpdir()));
    const full = await demo(['--check', '--duration', '40']);
    assert.equal(full.code, 0, full.out);
    for (const name of scenarioNames) assert.match(full.out, new RegExp(`PASS +${name} `), `verdict for ${name}:\n${full.out}`);
    assert.match(full.out, /result OK/);
    assert.match(full.out, /over HBONE mTLS/, 'mTLS is reported');
    assert.deepEqual(leftovers(full, tmpBefore), none);

    const interrupted = await demo(['--check', '--duration', '40'], 'mesh up');
    assert.equal(interrupted.signal, 'SIGINT', interrupted.out);
    assert.deepEqual(leftovers(interrupted, tmpBefore), none);

    const again = await demo(['--check', '--duration', '20', '--scenario', 'canary']);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /PASS +canary /);
    assert.deepEqual(leftovers(again, tmpBefore), none);
  });

  it('refuses an unknown scenario with the list of known ones', async () => {
    const r = await demo(['--scenario', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.out, /known: canary, header-routing, denied, fault, strict, all/);
  });
});
