// The smallest Node proxy pair that does what the nginx `stream` pair of bench/ztunnel-netns.ts does:
// plain TCP in, TLS 1.3 with client certificates between the two, plain TCP out; each side
// `pipe()`s one socket into the other. No HTTP/2, no policy, no telemetry: on the same path it
// shows what any Node TLS proxy costs on this machine (the floor under Ambit's ztunnel), beside nginx.
//   node node-tls-relay.js client <listenHost> <listenPort> <upHost> <upPort> <key> <chain> <root>
//   node node-tls-relay.js server <listenHost> <listenPort> <upHost> <upPort> <key> <chain> <root>
// Prints `ready` once listening; exits on SIGTERM.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

/**
 * Both ways, half-close kept (`pipe()` passes each FIN on once the bytes before it are written); an
 * error, or a side closing before its peer finished sending, resets the other side.
 */
function join(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.pipe(b);
  b.pipe(a);
  const abort = (): void => {
    a.destroy();
    b.destroy();
  };
  a.once('error', abort).once('close', () => { if (!a.readableEnded) b.destroy(); });
  b.once('error', abort).once('close', () => { if (!b.readableEnded) a.destroy(); });
}

function main(argv: string[]): void {
  const [mode, listenHost, listenPort, upHost, upPort, keyFile, chainFile, rootFile] = argv;
  if ((mode !== 'client' && mode !== 'server') || rootFile === undefined) {
    process.stderr.write('usage: node-tls-relay.js client|server <listenHost> <listenPort> <upHost> <upPort> <key> <chain> <root>\n');
    process.exitCode = 2;
    return;
  }
  const creds = { key: readFileSync(keyFile!), cert: readFileSync(chainFile!), ca: readFileSync(rootFile), minVersion: 'TLSv1.3' as const };
  const up = { host: upHost!, port: Number(upPort), allowHalfOpen: true };
  const server = mode === 'client'
    ? net.createServer({ allowHalfOpen: true }, (inbound) => {
      // The peer's chain is verified against the root; its SPIFFE leaf has no DNS name to check.
      join(inbound, tls.connect({ ...up, ...creds, checkServerIdentity: () => undefined }));
    })
    : tls.createServer({ ...creds, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true }, (inbound) => {
      join(inbound, net.connect(up));
    });
  server.listen({ host: listenHost, port: Number(listenPort), backlog: 4096 }, () => process.stdout.write('ready\n'));
  process.once('SIGTERM', () => process.exit(0));
}

main(process.argv.slice(2));
