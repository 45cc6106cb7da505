// `ambit ztunnel`: the per-node proxy. Two ways to get its model and certificates:
//   --control-plane HOST:PORT  the config stream + CA of `ambit controlplane` (TLS, verified by
//                              --root-cert and the control plane's SPIFFE identity), with a token
//   --config FILE|DIR          a local YAML (watched) and a local CA directory (--ca-dir), no control plane
// (cli/proxy-source.ts, shared with `ambit waypoint`)
// Capture rules (iptables in this network namespace) are installed unless --no-capture.
import type { Command } from 'commander';
import { hboneEngines } from '../shared/hbone/settings.js';
import { createLogger } from '../shared/log.js';
import { applyRuntimeV8Flags } from '../ztunnel/runtime-tuning.js';
import { parseDuration, parseHostPort } from './duration.js';
import { addProxySourceOptions, envFlag, openProxySource } from './proxy-source.js';

interface ZtunnelFlags {
  node?: string;
  controlPlane?: string;
  rootCert?: string;
  tokenFile?: string;
  config?: string;
  caDir?: string;
  trustDomain: string;
  capture: boolean;
  listenHost: string;
  metrics: string;
  readiness: string;
  admin: string;
  drain: string;
  connectTimeout: string;
  hboneEngine: string;
  logLevel: string;
}

export function registerZtunnelCommand(program: Command): void {
  addProxySourceOptions(program.command('ztunnel')
    .description('run the node proxy: capture enrolled pods\' TCP, carry it over HBONE, enforce L4 policy')
    .option('--node <name>', 'this node\'s name, as in pods\' spec.nodeName (env NODE_NAME)', envFlag('NODE_NAME')), {
    tokenFile: 'bearer token for the CA: a bootstrap token or a projected service-account token (env AMBIT_TOKEN_FILE)',
    caDir: 'with --config: the CA directory (`ambit ca init`) that signs this node\'s certificates',
  })
    .option('--no-capture', 'do not install iptables capture rules (they are set up by something else)')
    .option('--listen-host <ip>', 'address of the 15001/15006/15008 listeners', '0.0.0.0')
    .option('--metrics <host:port>', 'Prometheus metrics', '0.0.0.0:15020')
    .option('--readiness <host:port>', 'readiness (/healthz/ready)', '0.0.0.0:15021')
    .option('--admin <host:port>', 'admin (/config_dump); keep it on localhost', '127.0.0.1:15000')
    .option('--drain <duration>', 'on SIGTERM, how long open connections may finish (env DRAIN_DURATION)', envFlag('DRAIN_DURATION') ?? '20s')
    .option('--connect-timeout <duration>', 'upstream and HBONE connect timeout', '10s')
    .option('--hbone-engine <lean|node>', 'HTTP/2 implementation for HBONE: lean (shared/h2) or node (node:http2, the fallback)', 'lean')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: ZtunnelFlags) => {
      const hboneEngine = hboneEngines.find((e) => e === o.hboneEngine);
      if (!hboneEngine) throw new Error(`--hbone-engine: expected one of ${hboneEngines.join(', ')}, got ${JSON.stringify(o.hboneEngine)}`);
      const v8Flags = applyRuntimeV8Flags();
      const logger = createLogger({ level: o.logLevel, name: 'ztunnel' });
      if (!o.node) throw new Error('--node (or NODE_NAME) is required');
      const drainMs = parseDuration(o.drain);
      const [{ Ztunnel }, { ZtunnelState, configClientSource, configStoreSource }, { kernelOriginalDst, originalDstSupport }] = await Promise.all([
        import('../ztunnel/ztunnel.js'),
        import('../ztunnel/state.js'),
        import('../shared/net/orig-dst.js'),
      ]);
      const source = await openProxySource(o, { kind: 'ztunnel', node: o.node }, logger);
      const state = new ZtunnelState(source.kind === 'local' ? configStoreSource(source.store, source.close) : configClientSource(source.client));
      const fetchCertificate = source.fetchCertificate;
      const { Counter, Registry } = await import('prom-client');
      const registry = new Registry();
      const repairs = new Counter({ name: 'ambit_capture_repairs_total', help: 'Times the capture rules were found changed underneath ztunnel, by result', labelNames: ['result'], registers: [registry] });
      let capture: ConstructorParameters<typeof Ztunnel>[0]['capture'];
      if (o.capture) {
        const support = originalDstSupport();
        if (!support.ok) throw new Error(`capture needs SO_ORIGINAL_DST: ${support.reason} (or run with --no-capture)`);
        const [{ CaptureRules }, { ShellCommandRunner }] = await Promise.all([
          import('../ztunnel/capture/capture-rules.js'), import('../ztunnel/capture/shell-runner.js'),
        ]);
        // The 1 s verify loop's iptables-save through one long-lived shell: ~0.2 ms of ztunnel
        // CPU per check instead of ~3 ms for forking ztunnel itself.
        const runner = new ShellCommandRunner();
        const rules = new CaptureRules({ logger, runner, onRepair: (r) => repairs.inc({ result: r.ok ? 'restored' : 'failed' }) });
        capture = {
          reconcile: async (ips) => {
            const r = await rules.reconcile(ips);
            if (!r.ok) throw r.error;
          },
          remove: async () => {
            const r = await rules.remove();
            runner.close();
            if (!r.ok) throw r.error;
          },
        };
      }
      const host = o.listenHost;
      const ztunnel = new Ztunnel({
        node: o.node,
        trustDomain: o.trustDomain,
        state,
        fetchCertificate,
        logger,
        listen: {
          outbound: [{ host, port: 15001 }],
          inbound: [{ host, port: 15008 }],
          inboundPlaintext: [{ host, port: 15006 }],
          metrics: parseHostPort(o.metrics),
          readiness: parseHostPort(o.readiness),
          admin: parseHostPort(o.admin),
        },
        originalDst: { outbound: kernelOriginalDst, inbound: kernelOriginalDst, inboundPlaintext: kernelOriginalDst },
        connectTimeoutMs: parseDuration(o.connectTimeout),
        hboneEngine,
        registry,
        ...(capture ? { capture } : {}),
      });
      const quit = (): void => void ztunnel.shutdown(drainMs).then(() => process.exit(0));
      process.once('SIGTERM', quit);
      process.once('SIGINT', quit);
      ztunnel.onStopped(() => process.exit(0));
      await ztunnel.start();
      logger.info({ node: o.node, source: o.config ? { config: o.config } : { controlPlane: o.controlPlane }, capture: o.capture, hboneEngine, v8Flags }, 'ztunnel listening');
    });
}
