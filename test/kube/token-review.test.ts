// Kube tier: the CA's TokenReview authentication against a real kube-apiserver. Tokens are minted
// with the TokenRequest API (audience, optional binding to a pod). A ztunnel token bound to its
// pod authenticates as that pod's node; an unbound ztunnel token, a token for another audience, a
// forged token and an app's token are refused; a `<gw>-istio-waypoint` token is that waypoint.
// End to end: a ControlPlane with the kube source serves the CA over gRPC to a CaClient holding the
// ztunnel token: a certificate for a service account with a pod on node-1 is issued, one whose pod
// runs on node-2 is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type V1BoundObjectReference } from '@kubernetes/client-node';
import type { CallerAuthenticator } from '../../controlplane/caller-auth.js';
import { ControlPlane, controlPlaneIdentity } from '../../controlplane/control-plane.js';
import { tokenReviewAuthenticator } from '../../controlplane/token-review.js';
import { waypointWorkloadName } from '../../shared/config/compile-model.js';
import { isMeshError } from '../../shared/errors.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { createLogger } from '../../shared/log.js';
import { CaClient } from '../../shared/xds/ca-client.js';
import { controlPlaneChannelCredentials } from '../../shared/xds/credentials.js';
import { apiServerUnavailable, startApiServer, type ApiServer } from '../support/kube-apiserver.js';
import { createNamespace, createPod, createServiceAccount } from '../support/kube-fixtures.js';
import { within } from '../support/within.js';

const skip = apiServerUnavailable();
const td = 'cluster.local';
const app = 'shop';
const waypointSa = waypointWorkloadName('shop-gw');

describe('TokenReview caller authentication', { skip }, () => {
  let server: ApiServer;
  let authenticate: CallerAuthenticator;
  const logLines: string[] = [];
  const logs: { msg: string; reason?: string; level: number }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        logLines.push(line);
        logs.push(JSON.parse(line) as (typeof logs)[number]);
      }
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const minted: string[] = [];
  const core = (): CoreV1Api => server.kubeConfig.makeApiClient(CoreV1Api);

  /** TokenRequest for `namespace/sa`, optionally bound to a pod (by name and uid). */
  async function mint(namespace: string, sa: string, opts: { audience?: string; pod?: string } = {}): Promise<string> {
    let boundObjectRef: V1BoundObjectReference | undefined;
    if (opts.pod) {
      const pod = await core().readNamespacedPod({ namespace, name: opts.pod });
      boundObjectRef = { apiVersion: 'v1', kind: 'Pod', name: opts.pod, uid: pod.metadata?.uid };
    }
    const res = await core().createNamespacedServiceAccountToken({
      namespace,
      name: sa,
      body: { spec: { audiences: [opts.audience ?? 'ambit'], expirationSeconds: 600, boundObjectRef } },
    });
    const token = res.status?.token;
    assert.ok(token, `no token minted for ${namespace}/${sa}`);
    minted.push(token);
    return token;
  }
  const lastRefusal = (): string | undefined => logs.filter((l) => l.msg === 'caller token refused').at(-1)?.reason;

  before(async () => {
    server = await startApiServer();
    const kc = server.kubeConfig;
    await createNamespace(kc, 'ambit-system');
    await createServiceAccount(kc, 'ambit-system', 'ztunnel');
    await createPod(kc, { namespace: 'ambit-system', name: 'ztunnel-node1', serviceAccountName: 'ztunnel', nodeName: 'node-1' });
    await createPod(kc, { namespace: 'ambit-system', name: 'ztunnel-node2', serviceAccountName: 'ztunnel', nodeName: 'node-2' });
    await createPod(kc, { namespace: 'ambit-system', name: 'ztunnel-pending', serviceAccountName: 'ztunnel' });
    await createNamespace(kc, app, { 'istio.io/dataplane-mode': 'ambient' });
    for (const sa of ['echo', 'db', waypointSa]) await createServiceAccount(kc, app, sa);
    await createPod(kc, { namespace: app, name: 'echo-1', labels: { app: 'echo' }, serviceAccountName: 'echo', nodeName: 'node-1', podIP: '10.244.1.5' });
    await createPod(kc, { namespace: app, name: 'db-1', labels: { app: 'db' }, serviceAccountName: 'db', nodeName: 'node-2', podIP: '10.244.2.5' });
    authenticate = tokenReviewAuthenticator({ kubeConfig: kc, trustDomain: td, logger });
  });
  after(async () => {
    await server?.stop();
  });

  it('a ztunnel token bound to its pod is that pod\'s node', async () => {
    const token = await mint('ambit-system', 'ztunnel', { pod: 'ztunnel-node1' });
    assert.deepEqual(await authenticate(token), { kind: 'ztunnel', node: 'node-1' });
    // A burst shares the review and then the cache; all agree.
    const burst = await Promise.all(Array.from({ length: 20 }, () => authenticate(token)));
    for (const c of burst) assert.deepEqual(c, { kind: 'ztunnel', node: 'node-1' });
  });

  it('refuses a ztunnel token not bound to a pod, and one bound to an unscheduled pod', async () => {
    assert.equal(await authenticate(await mint('ambit-system', 'ztunnel')), undefined);
    assert.match(lastRefusal() ?? '', /not bound to a pod/);
    assert.equal(await authenticate(await mint('ambit-system', 'ztunnel', { pod: 'ztunnel-pending' })), undefined);
    assert.match(lastRefusal() ?? '', /not scheduled to a node/);
  });

  it('refuses a token minted for another audience', async () => {
    assert.equal(await authenticate(await mint('ambit-system', 'ztunnel', { audience: 'other', pod: 'ztunnel-node1' })), undefined);
    assert.match(lastRefusal() ?? '', /not authenticated/);
  });

  it('refuses a forged token', async () => {
    const real = await mint('ambit-system', 'ztunnel', { pod: 'ztunnel-node1' });
    // Same header and claims, signature bytes altered; and one that is not a JWT at all.
    const [h, p, s] = real.split('.') as [string, string, string];
    const forged = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    assert.equal(await authenticate(forged), undefined);
    assert.match(lastRefusal() ?? '', /not authenticated/);
    assert.equal(await authenticate('not-a-kubernetes-token-0123456789'), undefined);
  });

  it('refuses an application service account\'s token', async () => {
    assert.equal(await authenticate(await mint(app, 'echo')), undefined);
    assert.match(lastRefusal() ?? '', /neither a ztunnel nor a waypoint/);
    assert.equal(await authenticate(await mint(app, 'echo', { pod: 'echo-1' })), undefined);
  });

  it('a <gw>-istio-waypoint token is that waypoint, with its own identity', async () => {
    assert.deepEqual(await authenticate(await mint(app, waypointSa)), { kind: 'waypoint', identity: { trustDomain: td, namespace: app, serviceAccount: 'shop-gw-istio-waypoint' } });
  });

  it('caches a positive result briefly, then reviews again (a deleted bound pod revokes the token)', async () => {
    let clock = Date.now();
    const auth = tokenReviewAuthenticator({ kubeConfig: server.kubeConfig, trustDomain: td, logger, cacheMs: 30_000, now: () => clock });
    const token = await mint('ambit-system', 'ztunnel', { pod: 'ztunnel-node2' });
    assert.deepEqual(await auth(token), { kind: 'ztunnel', node: 'node-2' });
    await core().deleteNamespacedPod({ namespace: 'ambit-system', name: 'ztunnel-node2', gracePeriodSeconds: 0 });
    assert.deepEqual(await auth(token), { kind: 'ztunnel', node: 'node-2' }, 'served from the cache');
    clock += 31_000;
    assert.equal(await auth(token), undefined, 'reviewed again after the cache expired');
  });

  it('never logs a token', () => {
    for (const t of minted) for (const line of logLines) assert.ok(!line.includes(t), 'a token appeared in the log');
    assert.ok(logs.some((l) => l.msg === 'caller token refused'));
  });

  it('end to end: the ControlPlane (kube source) issues over gRPC only for pods on the ztunnel\'s node', async () => {
    const caDir = mkdtempSync(join(tmpdir(), 'ambit-tr-ca-'));
    const cp = new ControlPlane({ source: { kind: 'kube', kubeConfig: server.kubeConfig }, listen: '127.0.0.1:0', caDir, trustDomain: td, logger });
    try {
      await within(cp.start(), 20_000, 'ControlPlane.start()');
      const ca = await CertificateAuthority.loadFromDir(caDir, td);
      const token = await mint('ambit-system', 'ztunnel', { pod: 'ztunnel-node1' });
      const client = (t: string): CaClient => new CaClient({ address: `127.0.0.1:${cp.port}`, credentials: controlPlaneChannelCredentials(ca.rootsPem, [controlPlaneIdentity(td)]), token: () => t });
      const c = client(token);
      try {
        const echo = { trustDomain: td, namespace: app, serviceAccount: 'echo' };
        const cert = await c.fetch(echo);
        assert.deepEqual(cert.identity, echo);
        await assert.rejects(c.fetch({ trustDomain: td, namespace: app, serviceAccount: 'db' }),
          (err) => isMeshError(err, 'CERTIFICATE_UNAVAILABLE') && /no pod of shop\/db runs on node node-1/.test(err.message));
      } finally {
        c.close();
      }
      const unbound = client(await mint('ambit-system', 'ztunnel'));
      try {
        await assert.rejects(unbound.fetch({ trustDomain: td, namespace: app, serviceAccount: 'echo' }), (err) => /token not recognised/.test((err as Error).message));
      } finally {
        unbound.close();
      }
      const wp = client(await mint(app, waypointSa));
      try {
        const own = { trustDomain: td, namespace: app, serviceAccount: waypointSa };
        assert.deepEqual((await wp.fetch(own)).identity, own);
        await assert.rejects(wp.fetch({ trustDomain: td, namespace: app, serviceAccount: 'echo' }), (err) => /may only get its own identity/.test((err as Error).message));
      } finally {
        wp.close();
      }
    } finally {
      await cp.stop();
      rmSync(caDir, { recursive: true, force: true });
    }
  });
});
