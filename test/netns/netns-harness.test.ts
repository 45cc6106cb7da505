// The netns harness itself: a test process that is interrupted or crashes takes its namespaces
// and processes along, and namespaces of a run killed outright are swept by the next run.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { netnsSkip, sweepStaleNamespaces } from '../support/netns.js';

const skip = netnsSkip();
const netnsModule = new URL('../support/netns.js', import.meta.url).href;

function namespaces(): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** Running (a killed process may linger a moment as a zombie until init reaps it). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function eventuallyDead(pid: number): Promise<boolean> {
  for (let i = 0; i < 40 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** Runs a child that builds a node with a pod and a sleeping process in it, then ends as `how` says. */
async function childTopology(how: 'SIGINT' | 'throw'): Promise<{ prefix: string; sleeper: number; code: number | null; signal: string | null }> {
  const script = `
    import { Topology } from ${JSON.stringify(netnsModule)};
    const t = new Topology();
    t.addNode('node1', '10.0.0.1');
    const pod = t.addPod('node1', 'a', '10.244.1.2');
    const p = t.spawn(pod.ns, 'sleep', ['60']);
    console.log(JSON.stringify({ prefix: t.prefix, sleeper: p.pid }));
    ${how === 'throw' ? "setTimeout(() => { throw new Error('test crashed'); }, 100);" : 'setInterval(() => {}, 1000);'}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const first = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.once('exit', () => reject(new Error(`child exited early: ${out}`)));
  });
  const info = JSON.parse(first) as { prefix: string; sleeper: number };
  assert.ok(namespaces().some((n) => n.startsWith(info.prefix)), 'the child made its namespaces');
  if (how === 'SIGINT') child.kill('SIGINT');
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  return { ...info, code, signal };
}

describe('netns harness cleanup', { skip, timeout: 30_000 }, () => {
  it('deletes its namespaces and kills its processes when interrupted with SIGINT', async () => {
    const r = await childTopology('SIGINT');
    assert.equal(r.signal, 'SIGINT');
    assert.deepEqual(namespaces().filter((n) => n.startsWith(r.prefix)), []);
    assert.equal(await eventuallyDead(r.sleeper), true);
  });

  it('deletes its namespaces when the test process crashes', async () => {
    const r = await childTopology('throw');
    assert.notEqual(r.code, 0);
    assert.deepEqual(namespaces().filter((n) => n.startsWith(r.prefix)), []);
    assert.equal(await eventuallyDead(r.sleeper), true);
  });

  it('sweeps namespaces left by a run that was killed outright', async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    assert.ok(gone !== undefined && !alive(gone));
    const stale = `ab${gone}-0-stale`;
    assert.equal(spawnSync('ip', ['netns', 'add', stale]).status, 0);
    sweepStaleNamespaces();
    // (A parallel run's sweep may have been first; either way it is gone.)
    assert.ok(!namespaces().includes(stale));
  });
});
