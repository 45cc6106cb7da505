import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { buildOrphanDeletions, buildWaypointObjects } from './waypoint-reconciler.js';

// Compiled to dist/controlplane/: the template is the one the image ships.
const template = readFileSync(new URL('../../manifests/waypoint/waypoint-template.yaml', import.meta.url), 'utf8');
const gateway = { namespace: 'shop', name: 'reviews', uid: 'uid-1' };

describe('buildWaypointObjects', () => {
  it('fills the template with the Gateway\'s names and makes the Gateway the owner of every object', () => {
    const r = buildWaypointObjects(gateway, template);
    assert.ok('objects' in r, 'error' in r ? r.error : '');
    assert.deepEqual(r.objects.map((o) => `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`),
      ['ServiceAccount/shop/reviews-istio-waypoint', 'Deployment/shop/reviews-istio-waypoint', 'Service/shop/reviews-istio-waypoint']);
    for (const o of r.objects) {
      assert.deepEqual(o.metadata?.ownerReferences?.map((x) => ({ ...x })), [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'reviews', uid: 'uid-1', controller: true, blockOwnerDeletion: false }]);
    }
    assert.ok(!JSON.stringify(r.objects).includes('${'), 'no placeholder left');
  });

  it('refuses a template with a placeholder it cannot fill', () => {
    const r = buildWaypointObjects(gateway, 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "${GATEWAY}-${REVISION}", namespace: "${NAMESPACE}"}\n');
    assert.ok('error' in r && r.error.includes('${REVISION}'));
  });

  it('refuses an object outside the Gateway\'s namespace, and a template that is not YAML', () => {
    const other = buildWaypointObjects(gateway, 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "${GATEWAY}", namespace: kube-system}\n');
    assert.ok('error' in other && /namespace shop/.test(other.error));
    const bad = buildWaypointObjects(gateway, 'kind: [unclosed');
    assert.ok('error' in bad && /not valid YAML/.test(bad.error));
  });

  it('labels every object as managed by the control plane, keeping the template\'s labels', () => {
    const r = buildWaypointObjects(gateway, template);
    assert.ok('objects' in r);
    for (const o of r.objects) {
      assert.equal(o.metadata?.labels?.['app.kubernetes.io/managed-by'], 'ambit-controlplane');
      assert.equal(o.metadata?.labels?.['gateway.networking.k8s.io/gateway-name'], 'reviews');
    }
  });
});

describe('buildOrphanDeletions', () => {
  const ours = { 'app.kubernetes.io/managed-by': 'ambit-controlplane' };
  const obj = (name: string, labels: Record<string, string>, owner?: { kind?: string; apiVersion?: string; uid: string; controller?: boolean }): KubernetesObject => ({
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name, namespace: 'shop', labels, ...(owner ? { ownerReferences: [{ apiVersion: owner.apiVersion ?? 'gateway.networking.k8s.io/v1', kind: owner.kind ?? 'Gateway', name: 'g', uid: owner.uid, controller: owner.controller ?? true }] } : {}) },
  });

  it('deletes our objects whose controlling Gateway is not a live waypoint Gateway, and keeps those of live ones', () => {
    const gone = obj('gone', ours, { uid: 'old' });
    const kept = obj('kept', ours, { uid: 'live' });
    const v1beta1 = obj('beta', ours, { uid: 'old', apiVersion: 'gateway.networking.k8s.io/v1beta1' });
    assert.deepEqual(buildOrphanDeletions([gone, kept, v1beta1], new Set(['live'])).map((o) => o.metadata?.name), ['gone', 'beta']);
  });

  it('never deletes an object without our label, without a controlling Gateway owner, or owned by another kind', () => {
    const candidates = [
      obj('user-made', { 'gateway.networking.k8s.io/gateway-name': 'g' }, { uid: 'old' }),
      obj('no-owner', ours),
      obj('not-controller', ours, { uid: 'old', controller: false }),
      obj('owned-by-rs', ours, { uid: 'old', kind: 'ReplicaSet', apiVersion: 'apps/v1' }),
      obj('other-group', ours, { uid: 'old', apiVersion: 'networking.istio.io/v1' }),
    ];
    assert.deepEqual(buildOrphanDeletions(candidates, new Set()), []);
  });
});
