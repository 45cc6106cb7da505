#!/usr/bin/env node
// The `ambit` command: one binary for every Ambit process and tool.
import { Command } from 'commander';
import { registerCaCommands } from './ca-commands.js';
import { registerControlPlaneCommand } from './controlplane-command.js';
import { registerDemoCommand } from './demo-command.js';
import { registerHboneCommands } from './hbone-commands.js';
import { registerWaypointCommand } from './waypoint-command.js';
import { registerXCommands } from './x-commands.js';
import { registerZtunnelCommand } from './ztunnel-command.js';

const program = new Command();
program.name('ambit').description('Ambit: an ambient service mesh data plane (ztunnel, waypoint, control plane)').version('0.1.0');
registerCaCommands(program);
registerControlPlaneCommand(program);
registerDemoCommand(program);
registerHboneCommands(program);
registerZtunnelCommand(program);
registerWaypointCommand(program);
registerXCommands(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ambit: ${(err as Error).message}\n`);
  process.exit(1);
});
