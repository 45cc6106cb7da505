// One ztunnel "node" for bench/waypoint-hop.ts, in a process of its own, on loopback without
// iptables or network namespaces: the real Ztunnel class, fed from a local YAML and CA directory
// (the same source as `ambit ztunnel --config --ca-dir`), with the kernel's original destination
// replaced by two loopback stand-ins (as the direct test tier does):
// - outbound: each outbound listener stands for one destination, `--outbound PORT=IP:PORT`, so an
//   unmodified load generator (wrk) connecting to 127.0.0.1:PORT is "a pod connecting to IP:PORT";
//   the source pod is whichever pod has the connection's source address (127.0.0.1);
// - inbound: one HBONE listener per local pod on podIP:15008; the original destination is the
//   listener's own address.
// Prints one line `{"ready":true,"outbound":[ports]}` once ready; stops on SIGTERM/SIGINT.
// Usage: node loopback-ztunnel.js --node NAME --config FILE --ca-dir DIR
//        [--outbound PORT=IP:PORT ...] [--inbound-ip IP ...] [--admin-ip IP] [--log-level warn]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openProxySource } from '../../cli/proxy-source.js';
import { createLogger } from '../../shared/log.js';
import { localAddressOriginalDst, type OriginalDstResolver, type SocketAddress } from '../../ztunnel/orig-dst.js';
import { configStoreSource, ZtunnelState } from '../../ztunnel/state.js';
import { Ztunnel } from '../../ztunnel/ztunnel.js';

/** `PORT=IP:PORT` → the listener port and the destination it stands for. */
export function parseOutboundSpec(spec: string): { port: number; dst: SocketAddress } | { error: string } {
  const m = /^(\d{1,5})=(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(spec.trim());
  if (!m) return { error: `outbound spec ${JSON.stringify(spec)}: expected PORT=IP:PORT` };
  const port = Number(m[1]);
  const dstPort = Number(m[3]);
  if (port < 1 || port > 65535 || dstPort < 1 || dstPort > 65535) return { error: `outbound spec ${JSON.stringify(spec)}: port out of range` };
  return { port, dst: { ip: m[2]!, port: dstPort } };
}

/** The outbound original destination of a socket: the destination its listener stands for. */
export function listenerOriginalDst(byListenerPort: ReadonlyMap<number, SocketAddress>): OriginalDstResolver {
  return (socket) => (socket.localPort === undefined ? undefined : byListenerPort.get(socket.localPort));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      node: { type: 'string' },
      config: { type: 'string' },
      'ca-dir': { type: 'string' },
      outbound: { type: 'string', multiple: true, default: [] },
      'inbound-ip': { type: 'string', multiple: true, default: [] },
      'admin-ip': { type: 'string', default: '127.0.0.1' },
      'trust-domain': { type: 'string', default: 'cluster.local' },
      'log-level': { type: 'string', default: 'warn' },
    },
  });
  if (!values.node || !values.config || !values['ca-dir']) throw new Error('--node, --config and --ca-dir are required');
  const logger = createLogger({ level: values['log-level'], name: 'ztunnel' });
  const outbound = new Map<number, SocketAddress>();
  for (const spec of values.outbound) {
    const parsed = parseOutboundSpec(spec);
    if ('error' in parsed) throw new Error(parsed.error);
    outbound.set(parsed.port, parsed.dst);
  }
  const source = await openProxySource({ config: values.config, caDir: values['ca-dir'], trustDomain: values['trust-domain'] }, { kind: 'ztunnel', node: values.node }, logger);
  if (source.kind !== 'local') throw new Error('expected a local config source');
  // Metrics, readiness and admin on their own address: an ephemeral port taken on 127.0.0.1 could be
  // one the benchmark has just picked for another listener.
  const loopback = { host: values['admin-ip'], port: 0 };
  const ztunnel = new Ztunnel({
    node: values.node,
    trustDomain: values['trust-domain'],
    state: new ZtunnelState(configStoreSource(source.store, source.close)),
    fetchCertificate: source.fetchCertificate,
    logger,
    listen: {
      outbound: [...outbound.keys()].map((port) => ({ host: '127.0.0.1', port })),
      inbound: values['inbound-ip'].map((ip) => ({ host: ip, port: 15008 })),
      inboundPlaintext: [],
      metrics: loopback,
      readiness: loopback,
      admin: loopback,
    },
    originalDst: {
      outbound: listenerOriginalDst(outbound),
      inbound: localAddressOriginalDst(15008),
      inboundPlaintext: () => undefined,
    },
    localAddresses: ['127.0.0.1'],
    connectTimeoutMs: 5_000,
  });
  const quit = (): void => void ztunnel.shutdown(0).then(() => process.exit(0));
  process.once('SIGTERM', quit);
  process.once('SIGINT', quit);
  await ztunnel.start();
  await ztunnel.ready(15_000);
  process.stdout.write(`${JSON.stringify({ ready: true, outbound: ztunnel.ports.outbound })}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`loopback-ztunnel: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
