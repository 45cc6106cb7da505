import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildWaypointObjects } from './waypoint-reconciler.js';

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
});
