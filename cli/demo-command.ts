// `ambit demo [--scenario NAME] [--duration S] [--check]`: a real mesh on this machine (network
// namespaces, iptables capture, the control plane, two ztunnels, a waypoint, sample apps) and the
// scenarios of examples/demo/, each with a verdict from measured traffic (demo/run-demo.ts).
import type { Command } from 'commander';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a real two-node mesh in network namespaces and walk through canary, header routing, a denied call, faults and STRICT mTLS (needs root)')
    .option('--scenario <name>', 'one scenario: canary, header-routing, denied, fault, strict (default: all)')
    .option('--duration <seconds>', 'bound on the whole run, setup and teardown included', '90')
    .option('--check', 'non-interactive: exit 0 only if every verdict holds', false)
    .action(async (o: { scenario?: string; duration: string; check: boolean }) => {
      const durationS = Number(o.duration);
      if (!Number.isFinite(durationS) || durationS < 20) {
        process.stderr.write(`ambit demo: --duration must be a number of seconds, at least 20 (got ${JSON.stringify(o.duration)})\n`);
        process.exit(2);
      }
      // A hard stop a little after the bound, should teardown itself hang.
      const guard = setTimeout(() => {
        process.stderr.write('ambit demo: --duration exceeded; stopping\n');
        process.kill(process.pid, 'SIGTERM');
      }, (durationS + 15) * 1000);
      guard.unref();
      // Loaded on use, like every command: the container image carries no demo/ (it needs a host's netns).
      const { runDemo } = await import('../demo/run-demo.js');
      const code = await runDemo({ ...(o.scenario ? { scenario: o.scenario } : {}), durationS, check: o.check, out: process.stdout });
      process.exit(code);
    });
}
