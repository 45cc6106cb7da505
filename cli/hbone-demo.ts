// `ambit hbone demo`: the wire end to end in one process, on loopback: a mesh CA, an HBONE server
// for identity "server" with an echo backend, a TCP forwarder holding identity "client", N
// concurrent connections through it, then two refusals (wrong server identity, foreign CA).
import { randomBytes } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { CertificateAuthority } from '../shared/identity/ca.js';
import { formatIdentity, type Identity } from '../shared/identity/spiffe.js';
import { HbonePool } from '../shared/hbone/pool.js';
import { HboneServer } from '../shared/hbone/server.js';
import { tunnelToHbone } from '../shared/hbone/tunnel.js';
import { silentLogger } from '../shared/log.js';
import { allowListHandler } from './hbone-commands.js';

export interface DemoOptions {
  readonly connections: number;
  readonly bytesPerConnection: number;
  readonly out: NodeJS.WritableStream;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Sends `payload` on a new connection to `port`, half-closes, and resolves with what came back. */
function roundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end(payload));
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

export async function runHboneDemo(opts: DemoOptions): Promise<boolean> {
  const say = (line: string): void => void opts.out.write(`${line}\n`);
  const log = silentLogger();
  const td = 'cluster.local';
  const serverId: Identity = { trustDomain: td, namespace: 'demo', serviceAccount: 'echo' };
  const clientId: Identity = { trustDomain: td, namespace: 'demo', serviceAccount: 'client' };

  const ca = await CertificateAuthority.create({ trustDomain: td, intermediate: true });
  const [serverCert, clientCert] = await Promise.all([ca.issue(serverId), ca.issue(clientId)]);
  say(`ca       root + intermediate for trust domain ${td}; leaves are ECDSA P-256, 24h`);
  say(`identity ${formatIdentity(serverId)} (server), ${formatIdentity(clientId)} (client)`);

  const echo = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => undefined); s.pipe(s); });
  const echoPort = await listen(echo);
  const authority = `127.0.0.1:${echoPort}`;
  const hbone = new HboneServer({ trustDomain: td, logger: log, onConnect: allowListHandler(new Set([authority]), log) });
  const hboneListener = net.createServer((s) => hbone.handleSocket(s, serverCert));
  const hbonePort = await listen(hboneListener);
  const pool = new HbonePool({ logger: log });
  const target = { source: clientCert, expectedIdentities: [serverId], nextHop: { host: '127.0.0.1', port: hbonePort }, authority };
  const forwarder = net.createServer({ allowHalfOpen: true }, (s) => void tunnelToHbone(s, pool, target));
  const forwardPort = await listen(forwarder);
  say(`path     client -> 127.0.0.1:${forwardPort} (forwarder) =HBONE mTLS=> 127.0.0.1:${hbonePort} (server) -> ${authority} (echo)`);

  let ok = true;
  try {
    const started = process.hrtime.bigint();
    const payloads = Array.from({ length: opts.connections }, () => randomBytes(opts.bytesPerConnection));
    const replies = await Promise.all(payloads.map((p) => roundTrip(forwardPort, p)));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const intact = replies.filter((r, i) => r.equals(payloads[i]!)).length;
    const total = opts.connections * opts.bytesPerConnection;
    say(`traffic  ${intact}/${opts.connections} connections echoed ${opts.bytesPerConnection} bytes intact in ${ms.toFixed(0)} ms ` +
      `(${((total * 2 * 8) / (ms / 1000) / 1e6).toFixed(0)} Mbit/s both ways), over ${hbone.stats.sessionsTotal} HBONE session(s)`);
    ok &&= intact === opts.connections;

    const imposter: Identity = { trustDomain: td, namespace: 'demo', serviceAccount: 'someone-else' };
    const wrongId = await pool.connect({ ...target, expectedIdentities: [imposter] }).then(() => 'accepted', (e: Error) => e.message);
    say(`refused  expecting ${formatIdentity(imposter)}: ${wrongId}`);
    ok &&= wrongId.includes('identity_mismatch');

    const foreign = await CertificateAuthority.create({ trustDomain: td });
    const foreignCert = await foreign.issue(clientId);
    const foreignPool = new HbonePool({ logger: log });
    const foreignResult = await foreignPool.connect({ ...target, source: { ...foreignCert, rootsPem: clientCert.rootsPem } })
      .then(() => 'accepted', (e: Error) => e.message);
    await foreignPool.close();
    say(`refused  client certificate from a foreign CA: ${foreignResult.split('\n')[0]}`);
    ok &&= foreignResult !== 'accepted';
    const rejected = [...hbone.stats.connectionRejections].map(([k, v]) => `${k}=${v}`).join(' ');
    say(`server   sessions=${hbone.stats.sessionsTotal} streams=${hbone.stats.streamsAccepted} rejected: ${rejected || 'none'}`);
    say(ok ? 'result   OK: mTLS, SPIFFE identity checks and byte relay all hold' : 'result   FAILED');
  } finally {
    forwarder.close();
    await pool.close();
    await hbone.close();
    hboneListener.close();
    echo.close();
  }
  return ok;
}
