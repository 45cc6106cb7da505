// Direct tier: the control plane's CA service over gRPC+TLS, with bootstrap tokens (file mode).
import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CaService } from '../../controlplane/ca-service.js';
import { loadBootstrapTokens } from '../../controlplane/caller-auth.js';
import { ConfigStore } from '../../shared/config/config-store.js';
import { isMeshError } from '../../shared/errors.js';
import { createCsr } from '../../shared/identity/csr.js';
import { silentLogger } from '../../shared/log.js';
import { CaClient } from '../../shared/xds/ca-client.js';
import { caServiceDefinition } from '../../shared/xds/ca-protocol.js';
import { controlPlaneChannelCredentials, controlPlaneServerCredentials } from '../../shared/xds/credentials.js';
import { createTestMesh, identity, type TestMesh } from '../support/mesh.js';

const pods = ['apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n',
  'apiVersion: v1\nkind: Pod\nmetadata: {name: echo-1, namespace: demo}\nspec: {nodeName: node-1, serviceAccountName: echo, containers: [{name: c}]}\nstatus: {podIP: 10.0.0.1}\n',
  'apiVersion: v1\nkind: Pod\nmetadata: {name: db-1, namespace: demo}\nspec: {nodeName: node-2, serviceAccountName: db, containers: [{name: c}]}\nstatus: {podIP: 10.0.0.2}\n'].join('---\n');

describe('CA service', () => {
  let mesh: TestMesh;
  let dir: string;
  let server: grpc.Server;
  let port: number;
  const cpId = identity('ambit-system', 'controlplane');
  const tokens = { node1: 'node-1-token-0123456789', waypoint: 'waypoint-token-0123456789' };

  before(async () => {
    mesh = await createTestMesh();
    dir = mkdtempSync(join(tmpdir(), 'ambit-ca-svc-'));
    writeFileSync(join(dir, 'tokens.yaml'), `tokens:\n- {token: ${tokens.node1}, kind: ztunnel, node: node-1}\n- {token: ${tokens.waypoint}, kind: waypoint, identity: spiffe://cluster.local/ns/demo/sa/echo-waypoint}\n`);
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('pods.yaml', pods));
    const service = new CaService({ ca: mesh.ca, store, authenticate: await loadBootstrapTokens(join(dir, 'tokens.yaml')), logger: silentLogger() });
    server = new grpc.Server();
    server.addService(caServiceDefinition, service.implementation());
    const cpCert = await mesh.ca.issue(cpId);
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', controlPlaneServerCredentials(cpCert), (err, p) => (err ? reject(err) : resolve(p))));
  });
  after(() => {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (token: string) => new CaClient({ address: `127.0.0.1:${port}`, credentials: controlPlaneChannelCredentials(mesh.ca.rootsPem, [cpId]), token: () => token });

  it('signs a certificate for a service account with a pod on the calling node', async () => {
    const c = client(tokens.node1);
    const cert = await c.fetch(identity('demo', 'echo'));
    assert.deepEqual(cert.identity, identity('demo', 'echo'));
    assert.equal(cert.rootsPem, mesh.ca.rootsPem);
    assert.ok(cert.notAfterMs - cert.notBeforeMs > 23 * 3600_000);
    c.close();
  });

  it('refuses a service account whose pods run on another node', async () => {
    const c = client(tokens.node1);
    await assert.rejects(c.fetch(identity('demo', 'db')), (err) => isMeshError(err, 'CERTIFICATE_UNAVAILABLE') && /no pod of demo\/db runs on node node-1/.test(err.message));
    c.close();
  });

  it('refuses a forged token', async () => {
    const c = client('forged-token-0123456789');
    await assert.rejects(c.fetch(identity('demo', 'echo')), (err) => /token not recognised/.test((err as Error).message));
    c.close();
  });

  it('refuses a CSR that asks for a different identity than the one claimed', async () => {
    const raw = new grpc.Client(`127.0.0.1:${port}`, controlPlaneChannelCredentials(mesh.ca.rootsPem, [cpId]));
    const { csrPem } = await createCsr(identity('demo', 'db'));
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${tokens.node1}`);
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(caServiceDefinition.createCertificate.path, caServiceDefinition.createCertificate.requestSerialize, caServiceDefinition.createCertificate.responseDeserialize,
        { csr: csrPem, identity: 'spiffe://cluster.local/ns/demo/sa/echo' }, md, {}, (e) => resolve(e)));
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(err?.details ?? '', /CSR asks for .*sa\/db.*caller is .*sa\/echo/);
    raw.close();
  });

  it('gives a waypoint its own identity and nothing else', async () => {
    const c = client(tokens.waypoint);
    assert.ok(await c.fetch(identity('demo', 'echo-waypoint')));
    await assert.rejects(c.fetch(identity('demo', 'echo')), (err) => /may only get its own identity/.test((err as Error).message));
    c.close();
  });

  it('refuses a call without a token', async () => {
    const raw = new grpc.Client(`127.0.0.1:${port}`, controlPlaneChannelCredentials(mesh.ca.rootsPem, [cpId]));
    const { csrPem } = await createCsr(identity('demo', 'echo'));
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      raw.makeUnaryRequest(caServiceDefinition.createCertificate.path, caServiceDefinition.createCertificate.requestSerialize, caServiceDefinition.createCertificate.responseDeserialize,
        { csr: csrPem, identity: 'spiffe://cluster.local/ns/demo/sa/echo' }, new grpc.Metadata(), {}, (e) => resolve(e)));
    assert.equal(err?.code, grpc.status.UNAUTHENTICATED);
    raw.close();
  });
});
