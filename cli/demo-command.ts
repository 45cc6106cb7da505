// `ambit demo [--scenario NAME] [--duration S] [--check]`: a real mesh on this machine (network
// namespaces, iptables capture, the control plane, two ztunnels, a waypoint, sample apps) and the
// scenarios of examples/demo/, each with a verdict from measured traffic (demo/run-demo.ts). As
// root it runs directly; otherwise it re-runs itself in an unprivileged user namespace
// (demo/user-namespace.ts decides, demo/user-namespace-runner.ts runs), or says what it needs.
import { Option, type Command } from 'commander';

interface DemoOptions {
  scenario?: string;
  duration: string;
  check: boolean;
  inUserNamespace?: boolean;
}

const ambitCli = new URL('./ambit.js', import.meta.url).pathname;

/** As a non-root user: re-runs the demo inside a user namespace, or explains what is missing; false if it should run here after all. */
async function runOutside(o: DemoOptions, durationS: number): Promise<boolean> {
  // Loaded on use, like every command: the container image carries no demo/ (it needs a host's netns).
  const { buildDemoPath, probeDemoPrivilege } = await import('../demo/user-namespace.js');
  const probe = probeDemoPrivilege();
  const path = buildDemoPath(probe);
  if (path.kind === 'direct') return false;
  if (path.kind === 'refuse') {
    process.stdout.write(`ambit demo: cannot build the mesh on this machine: ${path.reason}\nambit demo needs one of:\n${path.needs.map((n) => `  ${n}\n`).join('')}`);
    process.exit(2);
  }
  const { runUserNamespaceDemo, signalExitCode } = await import('../demo/user-namespace-runner.js');
  process.stdout.write(`ambit demo: not root (uid ${probe.uid}); running in an unprivileged user namespace of its own (unshare --user --map-root-user --net --mount${path.pidNamespace ? ' --pid' : ''})\n`);
  const args = [ambitCli, 'demo', '--in-user-namespace', '--duration', String(durationS), ...(o.scenario ? ['--scenario', o.scenario] : []), ...(o.check ? ['--check'] : [])];
  const r = await runUserNamespaceDemo({ unshare: probe.unshare ?? 'unshare', pidNamespace: path.pidNamespace, command: process.execPath, args, hardStopMs: (durationS + 25) * 1000 });
  if (r.error !== undefined) {
    process.stderr.write(`ambit demo: ${r.error}\n`);
    process.exit(2);
  }
  // Interrupted: end the way the demo run as root ends, by the same signal.
  if (r.forwarded && (r.signal === r.forwarded || r.code === signalExitCode(r.forwarded))) {
    process.kill(process.pid, r.forwarded);
    return true;
  }
  process.exit(r.code ?? (r.signal ? signalExitCode(r.signal) : 1));
}

/** Inside the user namespace: a private /run and temp folder, and an exit on signals once the teardown handlers ran. */
async function prepareInside(): Promise<void> {
  const { enterDemoNamespace, signalExitCode, watchOutsideEnd } = await import('../demo/user-namespace-runner.js');
  const entered = enterDemoNamespace();
  if (!entered.ok) {
    process.stderr.write(`ambit demo: ${entered.reason}\n`);
    process.exit(2);
  }
  // The only environment written: the demo's temp folder lives on the namespace's own tmpfs.
  process.env.TMPDIR = entered.tmpDir;
  // As PID 1 of its namespace this process ignores a signal it has no listener for, so the
  // Topology's re-raise after teardown would not end it: exit once every listener of this signal
  // has run (the Topology's synchronous teardown among them) — on the next tick, before the demo's
  // own flow can go on and report the torn-down mesh as a failure with another exit code.
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => process.nextTick(() => process.exit(signalExitCode(s))));
  // The outside `ambit demo` died (even by SIGKILL): tear down as on SIGTERM.
  watchOutsideEnd(process.stdin, () => process.kill(process.pid, 'SIGTERM'));
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a real two-node mesh in network namespaces and walk through canary, header routing, a denied call, faults and STRICT mTLS (root, or an unprivileged user namespace)')
    .option('--scenario <name>', 'one scenario: canary, header-routing, denied, fault, strict (default: all)')
    .option('--duration <seconds>', 'bound on the whole run, setup and teardown included', '90')
    .option('--check', 'non-interactive: exit 0 only if every verdict holds', false)
    .addOption(new Option('--in-user-namespace', 'internal: this is the re-run inside the user namespace').hideHelp())
    .action(async (o: DemoOptions) => {
      const durationS = Number(o.duration);
      if (!Number.isFinite(durationS) || durationS < 20) {
        process.stderr.write(`ambit demo: --duration must be a number of seconds, at least 20 (got ${JSON.stringify(o.duration)})\n`);
        process.exit(2);
      }
      if (o.inUserNamespace) await prepareInside();
      else if (process.getuid?.() !== 0 && (await runOutside(o, durationS))) return;
      // A hard stop a little after the bound, should teardown itself hang.
      const guard = setTimeout(() => {
        process.stderr.write('ambit demo: --duration exceeded; stopping\n');
        process.kill(process.pid, 'SIGTERM');
      }, (durationS + 15) * 1000);
      guard.unref();
      const { runDemo } = await import('../demo/run-demo.js');
      const code = await runDemo({ ...(o.scenario ? { scenario: o.scenario } : {}), durationS, check: o.check, out: process.stdout });
      process.exit(code);
    });
}
