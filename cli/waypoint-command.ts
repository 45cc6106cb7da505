// `ambit waypoint`: the L7 proxy of one service account (Istio's per-service-account waypoint).
// It runs as `<gateway>-istio-waypoint` in the Gateway's namespace, terminates HBONE on 15008,
// and takes its model, L7 resources and certificate from the control plane (--control-plane) or
// from a local YAML and CA directory (--config, --ca-dir), as ztunnel does.
import type { Command } from 'commander';
import { createLogger } from '../shared/log.js';
import { parseDuration, parseHostPort } from './duration.js';
import { addProxySourceOptions, envFlag, openProxySource } from './proxy-source.js';
import { registerWaypointApplyCommand } from './waypoint-apply.js';

interface WaypointFlags {
  gateway?: string;
  controlPlane?: string;
  rootCert?: string;
  tokenFile?: string;
  config?: string;
  caDir?: string;
  trustDomain: string;
  listen: string;
  metrics: string;
  readiness: string;
  admin: string;
  drain: string;
  connectTimeout: string;
  logLevel: string;
}

export function registerWaypointCommand(program: Command): void {
  const waypoint = program.command('waypoint');
  registerWaypointApplyCommand(waypoint);
  addProxySourceOptions(waypoint
    .description('run the L7 proxy of one service account: routing, resilience, L7 policy, JWT, HTTP telemetry')
    .option('--gateway <namespace/name>', 'the waypoint Gateway this proxy serves (env WAYPOINT_GATEWAY)', envFlag('WAYPOINT_GATEWAY')), {
    tokenFile: 'bearer token for the CA (env AMBIT_TOKEN_FILE)',
    caDir: 'with --config: the CA directory (`ambit ca init`) that signs the waypoint\'s certificate',
  })
    .option('--listen <host:port>', 'HBONE listener', '0.0.0.0:15008')
    .option('--metrics <host:port>', 'Prometheus metrics', '0.0.0.0:15020')
    .option('--readiness <host:port>', 'readiness (/healthz/ready)', '0.0.0.0:15021')
    .option('--admin <host:port>', 'admin (/config_dump); keep it on localhost', '127.0.0.1:15000')
    .option('--drain <duration>', 'on SIGTERM, how long requests in flight may finish', '20s')
    .option('--connect-timeout <duration>', 'HBONE connect timeout to endpoints', '10s')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: WaypointFlags) => {
      const logger = createLogger({ level: o.logLevel, name: 'waypoint' });
      const [namespace, name, extra] = (o.gateway ?? '').split('/');
      if (!namespace || !name || extra !== undefined) throw new Error('--gateway NAMESPACE/NAME (or WAYPOINT_GATEWAY) is required');
      const drainMs = parseDuration(o.drain);
      const [{ Waypoint }, { WaypointState, configClientSource, configStoreSource }, { l7Compiler }, { waypointWorkloadName }, { JwksFetcher }, { systemClock }] = await Promise.all([
        import('../waypoint/waypoint.js'), import('../waypoint/state.js'), import('../waypoint/l7-compiler.js'), import('../shared/config/compile-model.js'),
        import('../waypoint/filters/jwt/jwks-fetcher.js'), import('../shared/clock.js'),
      ]);
      const identity = { trustDomain: o.trustDomain, namespace, serviceAccount: waypointWorkloadName(name) };
      const source = await openProxySource(o, { kind: 'waypoint', node: `${namespace}/${name}` }, logger);
      const jwksFetcher = new JwksFetcher({ clock: systemClock, logger });
      const compile = l7Compiler({ gateway: { namespace, name }, jwksFetcher, logger }, (warnings) => {
        for (const w of warnings) logger.warn({ warning: w }, 'l7 config warning');
      });
      const state = new WaypointState(source.kind === 'local' ? configStoreSource(source.store, source.close) : configClientSource(source.client), compile);
      const waypoint = new Waypoint({
        gateway: `${namespace}/${name}`,
        identity,
        state,
        fetchCertificate: source.fetchCertificate,
        logger,
        listen: { hbone: [parseHostPort(o.listen)], metrics: parseHostPort(o.metrics), readiness: parseHostPort(o.readiness), admin: parseHostPort(o.admin) },
        connectTimeoutMs: parseDuration(o.connectTimeout),
      });
      const quit = (): void => void waypoint.shutdown(drainMs).then(() => process.exit(0));
      process.once('SIGTERM', quit);
      process.once('SIGINT', quit);
      waypoint.onStopped(() => {
        jwksFetcher.close();
        process.exit(0);
      });
      await waypoint.start();
      logger.info({ gateway: `${namespace}/${name}`, identity: `${identity.namespace}/${identity.serviceAccount}`, source: source.kind }, 'waypoint listening');
    });
}
