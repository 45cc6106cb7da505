// Reliability case 30 (the descriptor half): a ztunnel driven past `ulimit -n` keeps running —
// EMFILE on accept or connect fails only the connections that hit it — and once descriptors free
// up, traffic flows again and every connection was accounted for and closed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';

const child = new URL('../support/ztunnel-fd-child.js', import.meta.url).pathname;

test('case 30: descriptor exhaustion fails some connections, never the process; traffic resumes afterwards', async () => {
  const out = await new Promise<string>((resolve, reject) => {
    execFile('bash', ['-c', `ulimit -n 400 && exec "${process.execPath}" "${child}" 200`], { timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`child failed: ${err.message}\n${stderr}`)) : resolve(stdout));
  });
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as { attempts: number; established: number; failed: number; leftTracked: number; after: string; emfileLogged: boolean };
  assert.equal(r.established + r.failed, r.attempts, 'every attempt is accounted for');
  assert.ok(r.failed > 0, `the limit was reached (${JSON.stringify(r)})`);
  assert.ok(r.established > 0, 'connections within the limit worked');
  assert.equal(r.leftTracked, 0, 'all connections were closed and untracked');
  assert.equal(r.after, 'after', 'a new connection works once descriptors are free');
  assert.ok(r.emfileLogged, 'ztunnel itself hit EMFILE and logged it');
});
