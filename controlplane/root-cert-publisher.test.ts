import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { buildRootCertAction, rootCertConfigMapName, rootCertKey } from './root-cert-publisher.js';

const root = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const live = (data: Record<string, string>, labels: Record<string, string> = { 'app.kubernetes.io/part-of': 'ambit', 'app.kubernetes.io/managed-by': 'ambit-controlplane' }): V1ConfigMap =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: rootCertConfigMapName, namespace: 'shop', resourceVersion: '42', labels }, data });

describe('buildRootCertAction', () => {
  it('creates ConfigMap ambit-root-cert holding only root-cert.pem in a namespace that lacks it', () => {
    const a = buildRootCertAction({ name: 'shop', phase: 'Active' }, undefined, root);
    assert.equal(a.action, 'create');
    assert.ok(a.action === 'create');
    assert.deepEqual(a.configMap.metadata?.name, 'ambit-root-cert');
    assert.deepEqual(a.configMap.metadata?.namespace, 'shop');
    assert.deepEqual(a.configMap.data, { [rootCertKey]: root });
    assert.equal(rootCertKey, 'root-cert.pem');
  });

  it('does nothing when the live copy already holds exactly the roots and our labels', () => {
    assert.deepEqual(buildRootCertAction({ name: 'shop' }, live({ 'root-cert.pem': root }), root), { action: 'none' });
  });

  it('replaces wrong content, an extra key or a missing label, keeping the live resourceVersion and other labels', () => {
    for (const cm of [live({ 'root-cert.pem': 'old' }), live({ 'root-cert.pem': root, extra: 'x' }), live({ 'root-cert.pem': root }, { team: 'a' })]) {
      const a = buildRootCertAction({ name: 'shop' }, cm, root);
      assert.ok(a.action === 'update', JSON.stringify(cm));
      assert.deepEqual(a.configMap.data, { 'root-cert.pem': root });
      assert.equal(a.configMap.metadata?.resourceVersion, '42');
      assert.equal(a.configMap.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ambit-controlplane');
      if (cm.metadata?.labels?.['team']) assert.equal(a.configMap.metadata?.labels?.['team'], 'a');
    }
  });

  it('skips the Kubernetes system namespaces, a terminating namespace, and an empty root', () => {
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease']) assert.equal(buildRootCertAction({ name: ns }, undefined, root).action, 'skip');
    const t = buildRootCertAction({ name: 'shop', phase: 'Terminating' }, undefined, root);
    assert.ok(t.action === 'skip' && /terminating/.test(t.reason));
    const e = buildRootCertAction({ name: 'shop' }, undefined, '');
    assert.ok(e.action === 'skip' && /no root certificate/.test(e.reason));
  });
});
