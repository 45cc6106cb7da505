import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { CommandResult, CommandRunner } from './command-runner.js';
import { shellQuote, ShellCommandRunner } from './shell-runner.js';

class RecordingRunner implements CommandRunner {
  calls: { file: string; args: readonly string[]; input?: string }[] = [];
  async run(file: string, args: readonly string[], opts: { input?: string } = {}): Promise<CommandResult> {
    this.calls.push({ file, args, ...(opts.input === undefined ? {} : { input: opts.input }) });
    return { exitCode: 0, stdout: 'from fallback', stderr: '' };
  }
}

describe('ShellCommandRunner', () => {
  const runners: ShellCommandRunner[] = [];
  const make = (fallback?: CommandRunner): ShellCommandRunner => {
    const r = new ShellCommandRunner(fallback ? { fallback } : {});
    runners.push(r);
    return r;
  };
  after(() => runners.forEach((r) => r.close()));

  it('returns a command\'s stdout, stderr and exit code', async () => {
    const r = make();
    const out = await r.run('/bin/sh', ['-c', 'printf "line 1\\nline 2\\n"; echo oops >&2; exit 3']);
    assert.deepEqual(out, { exitCode: 3, stdout: 'line 1\nline 2\n', stderr: 'oops\n' });
    assert.deepEqual(await r.run('printf', ['no newline']), { exitCode: 0, stdout: 'no newline', stderr: '' });
  });

  it('passes arguments unchanged, shell characters and quotes included', async () => {
    const r = make();
    const arg = `a b; $(echo no) 'q' "d" \\ *`;
    const out = await r.run('printf', ['%s', arg]);
    assert.equal(out.stdout, arg);
    assert.equal(shellQuote(`it's`), `'it'\\''s'`);
  });

  it('runs every command in the same shell', async () => {
    const r = make();
    const a = await r.run('/bin/sh', ['-c', 'echo $PPID']);
    const b = await r.run('/bin/sh', ['-c', 'echo $PPID']);
    assert.match(a.stdout, /^\d+\n$/);
    assert.equal(a.stdout, b.stdout);
    assert.notEqual(a.stdout.trim(), String(process.pid));
  });

  it('runs concurrent calls one at a time, in order', async () => {
    const r = make();
    const outs = await Promise.all([1, 2, 3, 4].map((n) => r.run('/bin/sh', ['-c', `sleep 0.0${5 - n}; echo ${n}`])));
    assert.deepEqual(outs.map((o) => o.stdout), ['1\n', '2\n', '3\n', '4\n']);
  });

  it('rejects with ENOENT when the program does not exist', async () => {
    const r = make();
    await assert.rejects(r.run('ambit-no-such-program-xyz', []), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    assert.equal((await r.run('printf', ['still works'])).stdout, 'still works');
  });

  it('kills a command past its timeout (exit code null) and runs the next in a new shell', async () => {
    const r = make();
    const before = (await r.run('/bin/sh', ['-c', 'echo $PPID'])).stdout;
    const t0 = Date.now();
    const slow = await r.run('sleep', ['5'], { timeoutMs: 200 });
    assert.equal(slow.exitCode, null);
    assert.ok(Date.now() - t0 < 2000);
    const afterKill = (await r.run('/bin/sh', ['-c', 'echo $PPID'])).stdout;
    assert.notEqual(afterKill, before);
  });

  it('sends commands with input, and any command after close(), to the fallback', async () => {
    const fallback = new RecordingRunner();
    const r = make(fallback);
    assert.equal((await r.run('iptables-restore', ['--noflush'], { input: '*nat\nCOMMIT\n' })).stdout, 'from fallback');
    r.close();
    assert.equal((await r.run('printf', ['x'])).stdout, 'from fallback');
    assert.deepEqual(fallback.calls, [
      { file: 'iptables-restore', args: ['--noflush'], input: '*nat\nCOMMIT\n' },
      { file: 'printf', args: ['x'] },
    ]);
  });
});
