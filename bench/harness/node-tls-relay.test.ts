import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { freePort } from '../../test/support/ports.js';

const relayScript = fileURLToPath(new URL('./node-tls-relay.js', import.meta.url));

function startRelay(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [relayScript, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout!.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`relay exited ${code}: ${err}`)));
  });
}

/** Sends `data` through host:port and resolves with everything that comes back before the close. */
function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    const s = net.connect({ host: '127.0.0.1', port }, () => s.end(data));
    s.on('data', (c: Buffer) => got.push(c));
    s.once('close', () => resolve(Buffer.concat(got)));
    s.once('error', reject);
  });
}

describe('bench node-tls-relay: the Node mTLS pair beside the nginx pair', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-relay-'));
  const children: ChildProcess[] = [];
  let echo: net.Server;
  let clientPort = 0;
  let serverPort = 0;
  let files: Record<'clientKey' | 'clientChain' | 'serverKey' | 'serverChain' | 'root', string>;

  before(async () => {
    const ca = await CertificateAuthority.create({ trustDomain: 'cluster.local' });
    const client = await ca.issue({ trustDomain: 'cluster.local', namespace: 'legacy', serviceAccount: 'relay-client' });
    const server = await ca.issue({ trustDomain: 'cluster.local', namespace: 'legacy', serviceAccount: 'relay-server' });
    const write = (name: string, pem: string): string => {
      const p = join(dir, name);
      writeFileSync(p, pem);
      return p;
    };
    files = {
      clientKey: write('client-key.pem', client.keyPem), clientChain: write('client-chain.pem', client.chainPem),
      serverKey: write('server-key.pem', server.keyPem), serverChain: write('server-chain.pem', server.chainPem),
      root: write('root.pem', ca.rootsPem),
    };
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = (echo.address() as net.AddressInfo).port;
    [clientPort, serverPort] = [await freePort(), await freePort()];
    children.push(await startRelay(['server', '127.0.0.1', String(serverPort), '127.0.0.1', String(echoPort), files.serverKey, files.serverChain, files.root]));
    children.push(await startRelay(['client', '127.0.0.1', String(clientPort), '127.0.0.1', String(serverPort), files.clientKey, files.clientChain, files.root]));
  });

  after(async () => {
    for (const c of children) c.kill('SIGTERM');
    echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('carries bytes both ways through both relays and closes with the far end', async () => {
    const data = Buffer.alloc(300_000, 0x61);
    data.write('first', 0);
    data.write('last', data.length - 4);
    const back = await roundTrip(clientPort, data);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data));
  });

  it('talks TLS 1.3 between the pair and refuses a client without a certificate', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: serverPort, rejectUnauthorized: false }, () => {
        assert.equal(s.getProtocol(), 'TLSv1.3');
        s.write('x');
      });
      s.on('data', () => resolve('relayed'));
      s.once('error', (e) => resolve(`error: ${e.message}`));
      s.once('close', () => resolve('closed'));
    });
    assert.notEqual(outcome, 'relayed');
  });
});
