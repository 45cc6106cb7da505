// Direct tier: reliability cases of ../shared/reference/reliability-cases.md for ztunnel —
// 10 (no open relay, no self-loop), 17 (slow reader: bounded buffering), 18 (backend reset
// mid-stream), 20 (backend refuses: 503 on CONNECT) and 27 (SIGTERM drain).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { isMeshError } from '../../shared/errors.js';
import { HbonePool } from '../../shared/hbone/pool.js';
import { silentLogger } from '../../shared/log.js';
import { DirectCluster, eventually, exchange, meshAddresses, sampleMesh, type App } from '../support/ztunnel-harness.js';

const prefix = '127.79';
const { n1, n2 } = meshAddresses(prefix);
const clientId = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client' };
const echoId = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'echo' };

/** CONNECT through node-2's inbound (at `hop`) as demo/client; resolves with the status or the error. */
async function connectStatus(cluster: DirectCluster, pool: HbonePool, hop: string, authority: string): Promise<number | string> {
  const source = await cluster.ca.issue(clientId);
  try {
    const stream = await pool.connect({ source, expectedIdentities: [echoId], nextHop: { host: hop, port: 15008 }, authority, timeoutMs: 3_000 });
    stream.close();
    return 200;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (isMeshError(err) && status !== undefined) return status;
    return (err as Error).message;
  }
}

describe('ztunnel reliability (direct tier)', () => {
  let cluster: DirectCluster;
  let echo: App;
  let pool: HbonePool;

  before(async () => {
    // node-2 also listens on 15008 of a pod outside the mesh (legacy), to show it gets no TLS at all.
    cluster = await DirectCluster.start({ 'node-1': [n1.client, n1.other, n1.local], 'node-2': [n2.echo, n2.legacy] }, sampleMesh(prefix));
    echo = await cluster.startApp(n2.echo, 8080);
    pool = new HbonePool({ logger: silentLogger() });
  });
  after(async () => {
    await pool.close();
    await cluster.close();
  });

  test('case 10: CONNECT to another IP, a non-mesh pod, ztunnel\'s own ports: 400/503 or no handshake, never relayed', async () => {
    const accepted = echo.accepted();
    // The authority names a pod other than the one this connection was sent to.
    assert.equal(await connectStatus(cluster, pool, n2.echo, `${n1.client}:8080`), 400);
    assert.equal(await connectStatus(cluster, pool, n2.echo, `${n2.legacy}:8080`), 400);
    // ztunnel's own ports on the pod address.
    for (const port of [15000, 15001, 15006, 15008, 15020, 15021]) assert.equal(await connectStatus(cluster, pool, n2.echo, `${n2.echo}:${port}`), 400, `port ${port}`);
    // The original destination is not a local enrolled pod: reset before TLS.
    const noTls = await connectStatus(cluster, pool, n2.legacy, `${n2.legacy}:8080`);
    assert.equal(typeof noTls, 'string');
    assert.equal(echo.accepted(), accepted, 'nothing reached the app');
    // The session survives refusals: a good CONNECT on it still works.
    assert.equal(await connectStatus(cluster, pool, n2.echo, `${n2.echo}:8080`), 200);
  });

  test('case 20: a refused backend port is 503 on CONNECT, within the connect timeout', async () => {
    const t0 = Date.now();
    assert.equal(await connectStatus(cluster, pool, n2.echo, `${n2.echo}:8099`), 503);
    assert.ok(Date.now() - t0 < 2_000);
    const r = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8099 }), 'nobody home');
    assert.equal(r.data.length, 0);
    assert.notEqual(r.ending, 'end', 'the client is reset, not given a clean close');
  });

  test('case 18: a backend reset mid-stream resets the client; other streams and counters are fine', async () => {
    // An app that answers once, then resets the connection.
    const resetter = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => {
        s.write('partial');
        setTimeout(() => s.resetAndDestroy(), 50);
      });
    });
    await new Promise<void>((resolve) => resetter.listen(8181, n2.echo, () => resolve()));
    try {
      const bystander = cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 });
      bystander.write('first');
      // The client keeps its side open (a half-close would make the app FIN before it resets).
      const victim = cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8181 });
      const got: Buffer[] = [];
      victim.on('data', (d: Buffer) => got.push(d));
      const ending = new Promise<string>((resolve) => {
        let how = 'close';
        victim.on('end', () => { how = 'end'; });
        victim.on('error', (e: NodeJS.ErrnoException) => { how = e.code ?? 'error'; });
        victim.on('close', () => resolve(how));
      });
      victim.write('go');
      assert.equal(await ending, 'ECONNRESET', 'the reset reaches the client as a reset');
      assert.equal(Buffer.concat(got).toString(), 'partial');
      const b = await exchange(bystander, ' second');
      assert.equal(b.data.toString(), 'first second', 'the other stream on the same session is unaffected');
      for (const n of cluster.nodes.values()) await eventually(() => assert.equal(n.ztunnel.connections.size, 0), 2_000);
    } finally {
      await new Promise<void>((resolve) => resetter.close(() => resolve()));
    }
  });

  test('case 17: a client that stops reading pauses the backend; buffered bytes stay bounded', async () => {
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 120);
    const firehose = net.createServer((s) => {
      s.on('error', () => undefined);
      const pump = (): void => {
        while (!s.destroyed) {
          written += chunk.length;
          if (!s.write(chunk)) return void s.once('drain', pump);
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => firehose.listen(8282, n2.echo, () => resolve()));
    const client = cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8282 });
    try {
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      client.pause(); // never reads
      await new Promise((r) => setTimeout(r, 1_000));
      const atOneSecond = written;
      await new Promise((r) => setTimeout(r, 1_000));
      const growth = written - atOneSecond;
      // Kernel socket buffers on four sockets plus two HTTP/2 stream windows (4 MiB each): well
      // under 64 MiB, and flat once full.
      assert.ok(atOneSecond < 64 * 1024 * 1024, `backend wrote ${atOneSecond} bytes into a stalled client`);
      assert.ok(growth <= 2 * chunk.length, `still growing by ${growth} bytes/s`);
      // Reading resumes the flow.
      const before = written;
      client.resume();
      await eventually(() => assert.ok(written > before + 8 * 1024 * 1024), 5_000);
    } finally {
      client.destroy();
      await new Promise<void>((resolve) => firehose.close(() => resolve()));
    }
  });

  test('case 27: on shutdown a ztunnel stops accepting, lets live connections finish until the deadline, then closes them', async () => {
    const live = cluster.connectFrom('node-1', n1.client, { ip: n2.echo, port: 8080 });
    const echoed: string[] = [];
    live.on('data', (d: Buffer) => echoed.push(d.toString()));
    const liveClosed = new Promise<void>((resolve) => live.once('close', () => resolve()));
    live.write('before');
    await eventually(() => assert.equal(echoed.join(''), 'before'), 2_000);
    const z1 = cluster.node('node-1').ztunnel;
    const t0 = Date.now();
    const stopped = z1.shutdown(800);
    await eventually(() => assert.ok(z1.pendingReadiness().includes('draining')), 1_000);
    // New connections are refused...
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: z1.ports.outbound[0]!, localAddress: n1.client });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve('closed'));
    });
    assert.ok(['ECONNREFUSED', 'ECONNRESET', 'closed'].includes(refused), refused);
    // ...the live one keeps working during the drain...
    live.write(' during');
    await eventually(() => assert.equal(echoed.join(''), 'before during'), 500);
    // ...and is closed at the deadline.
    await stopped;
    await liveClosed;
    const took = Date.now() - t0;
    assert.ok(took >= 700 && took < 3_000, `drain took ${took} ms`);
  });
});
