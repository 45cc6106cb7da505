import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../shared/log.js';
import { ControlPlane } from './control-plane.js';
import { buildHealthAnswer, HealthServer } from './health-server.js';

describe('buildHealthAnswer', () => {
  it('is 503 naming every pending task until none is left, then 200', () => {
    assert.deepEqual(buildHealthAnswer('GET', '/healthz/ready', ['model', 'grpc']), { status: 503, body: 'not ready: model, grpc\n' });
    assert.deepEqual(buildHealthAnswer('GET', '/healthz/ready?x=1', []), { status: 200, body: 'ready\n' });
  });

  it('answers liveness whatever is pending, 404 for other paths and 405 for other methods', () => {
    assert.equal(buildHealthAnswer('GET', '/healthz/live', ['model']).status, 200);
    assert.equal(buildHealthAnswer('GET', '/metrics', []).status, 404);
    assert.equal(buildHealthAnswer('POST', '/healthz/ready', []).status, 405);
    assert.equal(buildHealthAnswer(undefined, undefined, []).status, 404);
  });
});

describe('HealthServer', () => {
  it('serves the answer for the pending tasks of the moment over HTTP', async () => {
    let pending = ['first model compiled from the source'];
    const h = new HealthServer(() => pending);
    const port = await h.listen({ host: '127.0.0.1', port: 0 });
    try {
      const before = await fetch(`http://127.0.0.1:${port}/healthz/ready`);
      assert.equal(before.status, 503);
      assert.equal(await before.text(), 'not ready: first model compiled from the source\n');
      pending = [];
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz/ready`)).status, 200);
    } finally {
      await h.close();
    }
  });

  it('is ready on a file-source control plane once start() returns, and gone after stop()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ambit-health-'));
    writeFileSync(join(dir, 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n');
    const cp = new ControlPlane({ source: { kind: 'file', path: dir }, listen: '127.0.0.1:0', caDir: join(dir, 'ca'), trustDomain: 'cluster.local',
      health: { host: '127.0.0.1', port: 0 }, logger: createLogger({ level: 'silent' }) });
    try {
      await cp.start();
      assert.ok(cp.healthPort > 0);
      const r = await fetch(`http://127.0.0.1:${cp.healthPort}/healthz/ready`);
      assert.equal(r.status, 200);
    } finally {
      await cp.stop();
      rmSync(dir, { recursive: true, force: true });
    }
    await assert.rejects(fetch(`http://127.0.0.1:${cp.healthPort}/healthz/live`));
  });
});
