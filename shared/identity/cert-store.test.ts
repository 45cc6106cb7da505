import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ManualClock } from '../clock.js';
import { isMeshError } from '../errors.js';
import { CertificateAuthority } from './ca.js';
import { CertStore, refreshAtMs } from './cert-store.js';
import type { Identity } from './spiffe.js';
import type { WorkloadCertificate } from './workload-certificate.js';

const td = 'cluster.local';
const alice: Identity = { trustDomain: td, namespace: 'default', serviceAccount: 'alice' };
const bob: Identity = { trustDomain: td, namespace: 'default', serviceAccount: 'bob' };
const hourMs = 3_600_000;

/** Lets fetches in flight (real crypto on the threadpool) finish before the next assertion. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('CertStore', () => {
  let clock: ManualClock;
  let ca: CertificateAuthority;
  before(async () => {
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    ca = await CertificateAuthority.create({ trustDomain: td, clock });
  });

  function harness(opts: { fail?: () => boolean } = {}) {
    const calls: Identity[] = [];
    const store = new CertStore({
      clock,
      fetch: async (id) => {
        calls.push(id);
        if (opts.fail?.()) throw new Error('CA unreachable');
        return ca.issue(id);
      },
    });
    return { store, calls };
  }

  it('fetches on first use and coalesces concurrent requests for one identity', async () => {
    const { store, calls } = harness();
    const certs = await Promise.all(Array.from({ length: 50 }, () => store.get(alice)));
    assert.equal(calls.length, 1);
    assert.ok(certs.every((c) => c === certs[0]));
    await store.get(bob);
    assert.equal(calls.length, 2);
    store.close();
  });

  it('serves the held certificate without fetching until half-life, then renews in the background', async () => {
    const { store, calls } = harness();
    const first = await store.get(alice);
    clock.advance(refreshAtMs(first) - clock.nowMs() - 1000);
    assert.equal(await store.get(alice), first);
    assert.equal(calls.length, 1);
    clock.advance(1000); // half-life: the renewal timer fires
    await settle();
    assert.equal(calls.length, 2);
    const second = await store.get(alice);
    assert.notEqual(second, first);
    assert.notEqual(second.serialHex, first.serialHex);
    store.close();
  });

  it('keeps the old certificate while renewal fails and retries with growing backoff', async () => {
    let failing = false;
    const { store, calls } = harness({ fail: () => failing });
    const first = await store.get(alice);
    failing = true;
    clock.advance(refreshAtMs(first) - clock.nowMs());
    await settle();
    assert.equal(calls.length, 2);
    assert.equal(await store.get(alice), first, 'still valid: served while the CA is down');
    clock.advance(499);
    await settle();
    const before = calls.length;
    clock.advance(1); // first retry after 500 ms
    await settle();
    assert.equal(calls.length, before + 1);
    clock.advance(999);
    await settle();
    assert.equal(calls.length, before + 1, 'second retry waits 1 s');
    clock.advance(1);
    await settle();
    assert.equal(calls.length, before + 2);
    failing = false;
    clock.advance(2000);
    await settle();
    const renewed = await store.get(alice);
    assert.notEqual(renewed.serialHex, first.serialHex);
    store.close();
  });

  it('fails closed once the certificate has expired and the CA is still unreachable', async () => {
    let failing = false;
    const { store } = harness({ fail: () => failing });
    const first = await store.get(alice);
    failing = true;
    clock.advance(first.notAfterMs - clock.nowMs() + 1);
    await settle();
    assert.equal(store.peek(alice), undefined);
    await assert.rejects(store.get(alice), (err) => isMeshError(err, 'CERTIFICATE_UNAVAILABLE'));
    failing = false;
    const fresh = await store.get(alice);
    assert.ok(fresh.notAfterMs > clock.nowMs());
    store.close();
  });

  it('never returns a fetched certificate that is already expired', async () => {
    const stale = await ca.issue(alice, { ttlMs: hourMs });
    const store = new CertStore({ clock, fetch: async () => stale });
    clock.advance(2 * hourMs);
    await assert.rejects(store.get(alice), (err) => isMeshError(err, 'CERTIFICATE_EXPIRED'));
    store.close();
  });

  it('refuses a fetched certificate for a different identity', async () => {
    const store = new CertStore({ clock, fetch: async () => ca.issue(bob) });
    await assert.rejects(store.get(alice), (err) => isMeshError(err, 'CERTIFICATE_UNAVAILABLE') && isMeshError(err.cause, 'IDENTITY_MISMATCH'));
    store.close();
  });

  it('stops renewing an identity it was told to forget', async () => {
    const { store, calls } = harness();
    const cert: WorkloadCertificate = await store.get(alice);
    store.forget(alice);
    clock.advance(refreshAtMs(cert) - clock.nowMs() + 1);
    await settle();
    assert.equal(calls.length, 1);
    assert.equal(clock.pendingTimers(), 0);
    store.close();
  });
});
