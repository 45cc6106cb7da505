// `ambit controlplane`: the control plane process, fed by the file source or the Kubernetes API
// server (--source kube: KUBECONFIG, ~/.kube/config, or the in-cluster service account).
import type { Command } from 'commander';
import { createLogger } from '../shared/log.js';
import { parseHostPort } from './duration.js';

export function registerControlPlaneCommand(program: Command): void {
  program.command('controlplane')
    .description('watch a source of mesh resources, push the compiled model to proxies and sign their certificates')
    .requiredOption('--source <source>', 'file:<dir or file> (the embedded default), or kube (KUBECONFIG or in-cluster)')
    .option('--listen <host:port>', 'gRPC (config stream + CA) address', '127.0.0.1:15012')
    .option('--ca-dir <dir>', 'CA directory: loaded if present, else created', './ambit-ca')
    .option('--tokens <file>', 'bootstrap tokens for the CA (YAML: tokens: [{token, kind: ztunnel, node} | {token, kind: waypoint, identity}])')
    .option('--trust-domain <td>', 'SPIFFE trust domain', 'cluster.local')
    .option('--waypoint-template <file>', 'with --source kube: create each istio-waypoint Gateway\'s Deployment/Service/ServiceAccount from this template')
    .option('--health <host:port>', 'serve /healthz/ready (200 once the first model is compiled and gRPC listens) and /healthz/live here, e.g. 0.0.0.0:15021')
    .option('--no-publish-root-cert', 'with --source kube: do not write ConfigMap ambit-root-cert (root-cert.pem) into every namespace')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: { source: string; listen: string; caDir: string; tokens?: string; trustDomain: string; waypointTemplate?: string; health?: string; publishRootCert: boolean; logLevel: string }) => {
      const logger = createLogger({ level: o.logLevel, name: 'controlplane' });
      // Loaded only for this command (grpc-js) and only for --source kube (client-node: ~0.6 s and
      // ~40 MB at start-up), which the file source and every other ambit process must not pay.
      const { ControlPlane } = await import('../controlplane/control-plane.js');
      let source: ConstructorParameters<typeof ControlPlane>[0]['source'];
      if (o.waypointTemplate && o.source !== 'kube') throw new Error('--waypoint-template needs --source kube');
      if (o.source === 'kube') {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kubeConfig = new KubeConfig();
        kubeConfig.loadFromDefault();
        source = { kind: 'kube', kubeConfig };
      } else if (o.source.startsWith('file:')) {
        source = { kind: 'file', path: o.source.slice('file:'.length) };
      } else {
        throw new Error(`unsupported --source ${JSON.stringify(o.source)}: use file:<path> or kube`);
      }
      const cp = new ControlPlane({
        source,
        listen: o.listen,
        caDir: o.caDir,
        trustDomain: o.trustDomain,
        logger,
        publishRootCert: o.publishRootCert,
        ...(o.health ? { health: parseHostPort(o.health) } : {}),
        ...(o.tokens ? { tokensFile: o.tokens } : {}),
      });
      await cp.start();
      let closeReconciler = (): void => {};
      if (o.waypointTemplate && source.kind === 'kube') {
        const [{ readFileSync }, { WaypointReconciler }] = await Promise.all([import('node:fs'), import('../controlplane/waypoint-reconciler.js')]);
        const reconciler = new WaypointReconciler({ kubeConfig: source.kubeConfig, template: readFileSync(o.waypointTemplate, 'utf8'), logger });
        reconciler.start();
        closeReconciler = () => reconciler.close();
      }
      const stop = (): void => {
        closeReconciler();
        void cp.stop().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
