import assert from 'node:assert/strict';
import grpc from '@grpc/grpc-js';
import { after, before, describe, it } from 'node:test';
import { ConfigStore } from '../shared/config/config-store.js';
import { CertificateAuthority } from '../shared/identity/ca.js';
import { silentLogger } from '../shared/log.js';
import { ConfigClient, type AppliedDelta } from '../shared/xds/config-client.js';
import { configServiceDefinition } from '../shared/xds/config-protocol.js';
import { controlPlaneChannelCredentials, controlPlaneServerCredentials } from '../shared/xds/credentials.js';
import { ConfigService } from './config-service.js';
import { controlPlaneIdentity } from './control-plane.js';

const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
const pod = (name: string, ip: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;

async function until(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return cond();
}

describe('ConfigService', () => {
  let ca: CertificateAuthority;
  let server: grpc.Server;
  let port: number;
  let store: ConfigStore;
  let service: ConfigService;
  before(async () => {
    ca = await CertificateAuthority.create({ trustDomain: 'cluster.local' });
    const cert = await ca.issue(controlPlaneIdentity('cluster.local'));
    store = new ConfigStore({ trustDomain: 'cluster.local' });
    store.update((r) => r.applyText('a.yaml', [ns, ...Array.from({ length: 200 }, (_, i) => pod(`p${i}`, `10.0.${i >> 8}.${i & 255}`))].join('---\n')));
    service = new ConfigService({ store, logger: silentLogger(), maxConcurrentSnapshots: 1 });
    server = new grpc.Server();
    server.addService(configServiceDefinition, service.implementation());
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', controlPlaneServerCredentials(cert), (err, p) => (err ? reject(err) : resolve(p))));
  });
  after(() => {
    server.forceShutdown();
    service.close();
  });

  it('writes snapshots one at a time when so limited; waiting subscribers start from the version current when their turn comes', async () => {
    const inFlight = (): number => (service as unknown as { snapshotsInFlight: number }).snapshotsInFlight;
    let maxInFlight = 0;
    const watch = setInterval(() => (maxInFlight = Math.max(maxInFlight, inFlight())), 1);
    const credentials = controlPlaneChannelCredentials(ca.rootsPem, [controlPlaneIdentity('cluster.local')]);
    const clients = Array.from({ length: 6 }, (_, i) => {
      const c = new ConfigClient({ address: `127.0.0.1:${port}`, credentials, node: `node-${i}`, kind: 'ztunnel', logger: silentLogger() });
      const applied: AppliedDelta[] = [];
      c.onChange((d) => applied.push(d));
      c.start();
      return { c, applied };
    });
    try {
      // A change while snapshots are queued: nobody may miss it or see it twice.
      assert.ok(await until(() => service.subscriberList().length === 6));
      store.update((r) => r.applyText('a.yaml', [ns, ...Array.from({ length: 200 }, (_, i) => pod(`p${i}`, `10.0.${i >> 8}.${i & 255}`)), pod('late', '10.1.0.1')].join('---\n')));
      assert.ok(await until(() => clients.every(({ c }) => c.currentVersion()?.n === store.version)), 'every client reaches the latest version');
      for (const { c, applied } of clients) {
        assert.equal(c.workloads.size, 201);
        const late = applied.flatMap((d) => d.upsertedWorkloads).filter((w) => w.name === 'late');
        assert.equal(late.length, 1, 'the late pod arrives exactly once');
      }
      assert.equal(maxInFlight, 1);
      assert.equal(inFlight(), 0, 'every slot released');
    } finally {
      clearInterval(watch);
      for (const { c } of clients) c.close();
    }
  });

  it('frees the slot of a subscriber that leaves while its snapshot waits or is being written', async () => {
    const credentials = controlPlaneChannelCredentials(ca.rootsPem, [controlPlaneIdentity('cluster.local')]);
    const gone = Array.from({ length: 3 }, (_, i) => new ConfigClient({ address: `127.0.0.1:${port}`, credentials, node: `gone-${i}`, kind: 'ztunnel', logger: silentLogger() }));
    for (const c of gone) c.start();
    assert.ok(await until(() => service.subscriberList().length === 3));
    for (const c of gone) c.close();
    const stays = new ConfigClient({ address: `127.0.0.1:${port}`, credentials, node: 'stays', kind: 'ztunnel', logger: silentLogger() });
    stays.start();
    try {
      await stays.ready();
      assert.equal(stays.workloads.size, store.model.workloads.length);
    } finally {
      stays.close();
    }
  });
});
