// `ambit x authz check`: the decision ztunnel would make, explained without traffic, run as the
// real CLI process against a mesh file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sampleMesh } from '../support/ztunnel-harness.js';

const cli = new URL('../../cli/ambit.js', import.meta.url).pathname;
const policies = `
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: echo-allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: echo}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}], to: [{operation: {ports: ["8080"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-other, namespace: demo}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [other]}}]}]
`;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, 'x', 'authz', 'check', ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('ambit x authz check', () => {
  let dir: string;
  let config: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ambit-authz-'));
    config = join(dir, 'mesh.yaml');
    await writeFile(config, sampleMesh('127.80', policies));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const check = (request: unknown) => run(['--config', config, '--at', 'ztunnel', '--request', JSON.stringify(request)]);

  test('ALLOW names the policy that allowed it', async () => {
    const r = await check({ source: { principal: 'spiffe://cluster.local/ns/demo/sa/client', ip: '127.80.1.10' }, destination: { workload: 'demo/echo-v1', port: 8080 } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { decision: 'ALLOW', policy: 'demo/echo-allow-client', reason: 'allowed by ALLOW policy demo/echo-allow-client' });
  });

  test('DENY by an explicit DENY policy, by no matching ALLOW, and for plaintext', async () => {
    const denied = JSON.parse((await check({ source: { principal: 'spiffe://cluster.local/ns/other/sa/intruder' }, destination: { ip: '127.80.2.10', port: 8080 } })).stdout);
    assert.deepEqual(denied, { decision: 'DENY', policy: 'demo/deny-other', reason: 'denied by DENY policy demo/deny-other' });
    const wrongPort = await check({ source: { principal: 'spiffe://cluster.local/ns/demo/sa/client' }, destination: { workload: 'demo/echo-v1', port: 9999 } });
    assert.equal(wrongPort.code, 0);
    assert.equal(JSON.parse(wrongPort.stdout).decision, 'DENY');
    assert.equal(JSON.parse(wrongPort.stdout).policy, null);
    const plaintext = JSON.parse((await check({ source: { principal: null, ip: '10.0.0.9' }, destination: { workload: 'demo/echo-v1', port: 8080 } })).stdout);
    assert.equal(plaintext.decision, 'DENY');
  });

  test('invalid input exits 2 with a message', async () => {
    for (const req of ['not json', JSON.stringify({ destination: { workload: 'demo/nope', port: 80 } }), JSON.stringify({ source: { principal: 'spiffe://x/y' }, destination: { workload: 'demo/echo-v1', port: 8080 } }), JSON.stringify({ destination: { workload: 'demo/echo-v1' } })]) {
      const r = await run(['--config', config, '--request', req]);
      assert.equal(r.code, 2, `${req}: ${r.stdout}`);
      assert.match(r.stderr, /ambit x authz check: /);
      assert.equal(r.stdout, '');
    }
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'apiVersion: v1\nkind: Pod\nmetadata: {name: [}\n');
    const r = await run(['--config', broken, '--request', JSON.stringify({ destination: { ip: '1.2.3.4', port: 1 } })]);
    assert.equal(r.code, 2);
  });
});
