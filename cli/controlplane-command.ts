// `ambit controlplane`: the control plane process (file source today; Kubernetes source next).
import type { Command } from 'commander';
import { ControlPlane } from '../controlplane/control-plane.js';
import { createLogger } from '../shared/log.js';

export function registerControlPlaneCommand(program: Command): void {
  program.command('controlplane')
    .description('watch a source of mesh resources, push the compiled model to proxies and sign their certificates')
    .requiredOption('--source <source>', 'file:<dir or file> (the embedded default); kube is not implemented yet')
    .option('--listen <host:port>', 'gRPC (config stream + CA) address', '127.0.0.1:15012')
    .option('--ca-dir <dir>', 'CA directory: loaded if present, else created', './ambit-ca')
    .option('--tokens <file>', 'bootstrap tokens for the CA (YAML: tokens: [{token, kind: ztunnel, node} | {token, kind: waypoint, identity}])')
    .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: { source: string; listen: string; caDir: string; tokens?: string; trustDomain: string; logLevel: string }) => {
      const logger = createLogger({ level: o.logLevel, name: 'controlplane' });
      if (!o.source.startsWith('file:')) throw new Error(`unsupported --source ${JSON.stringify(o.source)}: use file:<path> (kube is not implemented yet)`);
      const cp = new ControlPlane({
        source: { kind: 'file', path: o.source.slice('file:'.length) },
        listen: o.listen,
        caDir: o.caDir,
        trustDomain: o.trustDomain,
        logger,
        ...(o.tokens ? { tokensFile: o.tokens } : {}),
      });
      await cp.start();
      const stop = (): void => void cp.stop().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
