// Child process of the fd-exhaustion test (reliability case 30): one in-process ztunnel node
// under a small `ulimit -n`, driven past it. Prints one JSON line with what happened.
import type { Socket } from 'node:net';
import { DirectCluster, exchange, meshAddresses, sampleMesh } from './ztunnel-harness.js';

const prefix = '127.76';
const { n1 } = meshAddresses(prefix);
const attempts = Number(process.argv[2] ?? 300);

const cluster = await DirectCluster.start({ 'node-1': [n1.client, n1.other, n1.local] }, sampleMesh(prefix));
await cluster.startApp(n1.local, 9090);
const sockets: Socket[] = [];
let established = 0;
let failed = 0;
await Promise.all(Array.from({ length: attempts }, () => new Promise<void>((resolve) => {
  let s: Socket;
  try {
    s = cluster.connectFrom('node-1', n1.client, { ip: n1.local, port: 9090 });
  } catch {
    failed++;
    return resolve();
  }
  sockets.push(s);
  let settled = false;
  const settle = (ok: boolean): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (ok) established++;
    else failed++;
    resolve();
  };
  const timer = setTimeout(() => settle(false), 5_000);
  s.once('data', () => settle(true));
  s.once('close', () => settle(false));
  s.write('x');
})));
for (const s of sockets) s.destroy();
const z = cluster.node('node-1').ztunnel;
const deadline = Date.now() + 5_000;
while (z.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
const leftTracked = z.connections.size;
const after = await exchange(cluster.connectFrom('node-1', n1.client, { ip: n1.local, port: 9090 }), 'after', 5_000).catch((e: Error) => ({ data: Buffer.from(`error: ${e.message}`) }));
const emfileLogged = cluster.node('node-1').logs.lines.some((l) => JSON.stringify(l).includes('EMFILE'));
await cluster.close();
process.stdout.write(`${JSON.stringify({ attempts, established, failed, leftTracked, after: after.data.toString(), emfileLogged })}\n`);
