// `ambit hbone serve|forward|demo`: HBONE end to end from the command line, before ztunnel exists
// (and for benchmarks): a server that relays to an allow-list of targets, a TCP→HBONE forwarder,
// and a self-contained demo.
import net from 'node:net';
import type { Command } from 'commander';
import { readCertificateDir } from '../shared/identity/cert-files.js';
import { parseIdentity } from '../shared/identity/spiffe.js';
import { HbonePool } from '../shared/hbone/pool.js';
import { HboneServer, type HboneConnectHandler } from '../shared/hbone/server.js';
import { formatHboneAuthority } from '../shared/hbone/authority.js';
import { tunnelToHbone } from '../shared/hbone/tunnel.js';
import { createLogger, type Logger } from '../shared/log.js';
import { parseHostPort } from './duration.js';
import { runHboneDemo } from './hbone-demo.js';

/** Connects to the authority only if it is on the allow-list: an HBONE server is never an open relay. */
export function allowListHandler(allowed: ReadonlySet<string>, log: Logger): HboneConnectHandler {
  return async (req) => {
    const target = formatHboneAuthority(req.authority);
    if (!allowed.has(target)) return { status: 503, reason: `target ${target} not allowed` };
    const upstream = net.connect({ host: req.authority.ip, port: req.authority.port, allowHalfOpen: true });
    try {
      await new Promise<void>((resolve, reject) => {
        upstream.once('connect', resolve);
        upstream.once('error', reject);
      });
    } catch (err) {
      upstream.destroy();
      log.info({ target, err: (err as Error).message }, 'upstream connect failed');
      return { status: 503, reason: 'upstream_connect_failed' };
    }
    upstream.setNoDelay(true);
    return { status: 200, upstream };
  };
}

function listenOn(server: net.Server, addr: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function onSignals(fn: () => void): void {
  process.once('SIGINT', fn);
  process.once('SIGTERM', fn);
}

export function registerHboneCommands(program: Command): void {
  const hbone = program.command('hbone').description('HBONE (HTTP/2 CONNECT over mutual TLS) tools');

  hbone.command('serve')
    .description('accept HBONE on an address and relay allowed CONNECT targets')
    .requiredOption('--cert-dir <dir>', 'key.pem, cert-chain.pem, root-cert.pem of the server identity')
    .option('--listen <host:port>', 'listen address', '127.0.0.1:15008')
    .requiredOption('--allow <host:port...>', 'CONNECT targets this server may reach (IP:port)')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: { certDir: string; listen: string; allow: string[]; logLevel: string }) => {
      const log = createLogger({ level: o.logLevel, name: 'hbone-serve' });
      const cert = await readCertificateDir(o.certDir);
      const hboneServer = new HboneServer({ trustDomain: cert.identity.trustDomain, logger: log, onConnect: allowListHandler(new Set(o.allow), log) });
      const server = net.createServer((s) => hboneServer.handleSocket(s, cert));
      await listenOn(server, parseHostPort(o.listen));
      log.info({ listen: o.listen, allow: o.allow }, 'hbone server listening');
      onSignals(() => {
        server.close();
        void hboneServer.close(5000).then(() => process.exit(0));
      });
    });

  hbone.command('forward')
    .description('accept plain TCP and carry each connection over HBONE to a fixed target')
    .requiredOption('--cert-dir <dir>', 'client identity: key.pem, cert-chain.pem, root-cert.pem')
    .requiredOption('--listen <host:port>', 'plain TCP listen address')
    .requiredOption('--hbone <host:port>', 'the HBONE server (next hop)')
    .requiredOption('--authority <ip:port>', 'the CONNECT target')
    .requiredOption('--expect <spiffe-id...>', 'identities the server may present')
    .option('--log-level <level>', 'pino level', 'info')
    .action(async (o: { certDir: string; listen: string; hbone: string; authority: string; expect: string[]; logLevel: string }) => {
      const log = createLogger({ level: o.logLevel, name: 'hbone-forward' });
      const cert = await readCertificateDir(o.certDir);
      const pool = new HbonePool({ logger: log });
      const target = { source: cert, expectedIdentities: o.expect.map(parseIdentity), nextHop: parseHostPort(o.hbone), authority: o.authority };
      const server = net.createServer({ allowHalfOpen: true }, (s) => {
        void tunnelToHbone(s, pool, target).then((r) => {
          if (!r.ok) log.info({ err: r.error.message, status: r.status }, 'tunnel failed');
        });
      });
      await listenOn(server, parseHostPort(o.listen));
      log.info({ listen: o.listen, hbone: o.hbone, authority: o.authority }, 'hbone forwarder listening');
      onSignals(() => {
        server.close();
        void pool.close(1000).then(() => process.exit(0));
      });
    });

  hbone.command('demo')
    .description('run a CA, an HBONE server, a forwarder and an echo backend in one process and send traffic through them')
    .option('--connections <n>', 'concurrent client connections', '50')
    .option('--bytes <n>', 'bytes each connection sends and expects back', '65536')
    .action(async (o: { connections: string; bytes: string }) => {
      const ok = await runHboneDemo({ connections: Number(o.connections), bytesPerConnection: Number(o.bytes), out: process.stdout });
      process.exitCode = ok ? 0 : 1;
    });
}
