// Direct tier: request bodies from HTTP/2 clients through the waypoint, streamed (retries turned
// off by the route, so nothing is buffered) to an HTTP/1.1 app. Every byte must arrive, also when
// the body's first DATA frames come before the upstream tunnel is open. Addresses 127.94.x.y.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { waypointScene, type EchoReply } from '../support/waypoint-harness.js';

const noRetries = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: demo}
spec:
  hosts: [echo.demo.svc.cluster.local]
  http: [{route: [{destination: {host: echo.demo.svc.cluster.local}}], retries: {attempts: 0}}]
`;
const mesh = waypointMesh('127.94', noRetries);

describe('HTTP/2 request bodies through the waypoint, streamed (direct tier)', () => {
  const scene = waypointScene(mesh);

  /** POSTs `parts` as separate DATA frames (the first with the headers' flight) and returns the echo. */
  async function post(parts: readonly string[], gapMs: number): Promise<{ status: number; echo: EchoReply }> {
    const socket = scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: mesh.vip, port: 80 });
    const session = http2.connect('http://echo.demo.svc.cluster.local', { createConnection: () => socket });
    session.on('error', () => undefined);
    try {
      const req = session.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'text/plain' });
      const reply = new Promise<{ status: number; echo: EchoReply }>((resolve, reject) => {
        let status = 0;
        const chunks: Buffer[] = [];
        req.on('response', (h) => (status = Number(h[':status'])));
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          try {
            resolve({ status, echo: JSON.parse(Buffer.concat(chunks).toString()) as EchoReply });
          } catch (err) {
            reject(new Error(`status ${status}, body ${Buffer.concat(chunks).toString().slice(0, 200)}: ${(err as Error).message}`));
          }
        });
        req.on('error', reject);
      });
      for (const [i, p] of parts.entries()) {
        req.write(p);
        if (i < parts.length - 1 && gapMs > 0) await sleep(gapMs);
      }
      req.end();
      return await reply;
    } finally {
      session.close();
    }
  }

  it('delivers every byte of a body sent right behind the headers, on a fresh upstream tunnel', async () => {
    const parts = ['first-part|', 'x'.repeat(64 * 1024), '|last'];
    const r = await post(parts, 0);
    assert.equal(r.status, 200);
    assert.equal(r.echo.body.length, parts.join('').length);
    assert.equal(r.echo.body, parts.join(''));
  });

  it('delivers every byte of a body that trickles in, and again on a kept tunnel', async () => {
    for (let round = 0; round < 3; round++) {
      const parts = Array.from({ length: 5 }, (_, i) => `${round}:${i}:${'y'.repeat(1000)}|`);
      const r = await post(parts, 20);
      assert.equal(r.status, 200);
      assert.equal(r.echo.body, parts.join(''), `round ${round}`);
    }
  });
});
