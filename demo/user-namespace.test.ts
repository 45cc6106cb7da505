import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDemoPath, unshareArgs, type DemoPrivilegeProbe } from './user-namespace.js';
import { inUserNamespace, signalExitCode } from './user-namespace-runner.js';

const ok = { ok: true, error: '' } as const;
const denied = { ok: false, error: 'unshare: write failed /proc/self/uid_map: Operation not permitted' } as const;

const probe = (over: Partial<DemoPrivilegeProbe> = {}): DemoPrivilegeProbe => ({
  platform: 'linux',
  uid: 1000,
  unshare: '/usr/bin/unshare',
  withPidNamespace: ok,
  plain: undefined,
  sysctls: { unprivilegedUsernsClone: undefined, maxUserNamespaces: '63000', apparmorRestrictUnprivilegedUserns: undefined },
  ...over,
});

describe('buildDemoPath', () => {
  it('runs directly as root without trying any user namespace', () => {
    assert.deepEqual(buildDemoPath(probe({ uid: 0, withPidNamespace: undefined })), { kind: 'direct' });
  });

  it('re-runs in a user namespace with its own PID namespace when the kernel allows it', () => {
    assert.deepEqual(buildDemoPath(probe()), { kind: 'user-namespace', pidNamespace: true });
  });

  it('falls back to a user namespace without a PID namespace when only that works', () => {
    assert.deepEqual(buildDemoPath(probe({ withPidNamespace: denied, plain: ok })), { kind: 'user-namespace', pidNamespace: false });
  });

  it('names the AppArmor sysctl to set when Ubuntu restricts unprivileged user namespaces', () => {
    const p = buildDemoPath(probe({ withPidNamespace: denied, plain: denied, sysctls: { unprivilegedUsernsClone: undefined, maxUserNamespaces: '63000', apparmorRestrictUnprivilegedUserns: '1' } }));
    assert.equal(p.kind, 'refuse');
    if (p.kind !== 'refuse') return;
    assert.match(p.needs[0] ?? '', /^root: sudo/);
    assert.match(p.needs[1] ?? '', /sudo sysctl -w kernel\.apparmor_restrict_unprivileged_userns=0$/);
    assert.match(p.reason, /uid 1000/);
  });

  it('names every sysctl that forbids them, and only those', () => {
    const p = buildDemoPath(probe({ withPidNamespace: denied, plain: denied, sysctls: { unprivilegedUsernsClone: '0', maxUserNamespaces: '0', apparmorRestrictUnprivilegedUserns: '0' } }));
    assert.equal(p.kind, 'refuse');
    if (p.kind !== 'refuse') return;
    assert.match(p.needs[1] ?? '', /sysctl -w kernel\.unprivileged_userns_clone=1 user\.max_user_namespaces=15000$/);
    assert.doesNotMatch(p.needs.join('\n'), /apparmor/);
  });

  it('quotes the kernel refusal when no sysctl explains it', () => {
    const p = buildDemoPath(probe({ withPidNamespace: denied, plain: denied }));
    assert.equal(p.kind, 'refuse');
    if (p.kind !== 'refuse') return;
    assert.match(p.reason, /Operation not permitted/);
    assert.match(p.needs[0] ?? '', /^root/);
  });

  it('asks for root or unshare(1) when unshare is not installed, whatever a stale trial said', () => {
    const p = buildDemoPath(probe({ unshare: undefined }));
    assert.equal(p.kind, 'refuse');
    if (p.kind !== 'refuse') return;
    assert.match(p.needs.join('\n'), /util-linux/);
  });

  it('refuses outside Linux, even as root', () => {
    const p = buildDemoPath(probe({ platform: 'darwin', uid: 0 }));
    assert.equal(p.kind, 'refuse');
    if (p.kind === 'refuse') assert.match(p.reason, /needs Linux/);
  });

  it('treats an unknown uid as not root', () => {
    assert.equal(buildDemoPath(probe({ uid: undefined, withPidNamespace: denied, plain: denied })).kind, 'refuse');
  });
});

describe('user namespace plumbing', () => {
  it('maps the user to root with its own network and private mounts, and a PID namespace only when asked', () => {
    assert.deepEqual(unshareArgs(false), ['--user', '--map-root-user', '--net', '--mount', '--propagation', 'private']);
    const withPid = unshareArgs(true);
    for (const a of ['--pid', '--fork', '--kill-child', '--mount-proc']) assert.ok(withPid.includes(a), a);
  });

  it('tells the initial user namespace (identity map) from a mapped one', () => {
    assert.equal(inUserNamespace('         0          0 4294967295\n'), false);
    assert.equal(inUserNamespace('         0      65534          1\n'), true);
    assert.equal(inUserNamespace('0 0 1000\n1000 1000 4294966295\n'), true);
  });

  it('gives the exit code of a signalled run as 128 plus the signal number', () => {
    assert.equal(signalExitCode('SIGINT'), 130);
    assert.equal(signalExitCode('SIGTERM'), 143);
  });
});
