// controlTunnel(): the "still serving" check: one CONNECT through an HbonePool to an echo backend,
// bytes there and back, then a clean close. Throws if anything differs.
import assert from 'node:assert/strict';
import type { HbonePool } from '../../shared/hbone/pool.js';
import type { TestMesh } from './mesh.js';
import { within } from './within.js';

export async function controlTunnel(pool: HbonePool, mesh: TestMesh, hbonePort: number, echoPort: number, payload = 'still serving'): Promise<void> {
  const stream = await pool.connect({
    source: mesh.clientCert,
    expectedIdentities: [mesh.serverId],
    nextHop: { host: '127.0.0.1', port: hbonePort },
    authority: `127.0.0.1:${echoPort}`,
    timeoutMs: 5000,
  });
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', reject);
    stream.on('close', () => resolve());
    stream.end(payload);
  });
  await within(done, 5000, 'the control tunnel to echo and close').catch((err: unknown) => {
    stream.destroy();
    throw err;
  });
  assert.equal(Buffer.concat(chunks).toString(), payload, 'the control tunnel echoes its bytes');
  assert.equal(stream.rstCode, 0, 'the control tunnel closes without a reset');
}
