import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyTargetRef } from '../config/security-resources.js';
import { waypointPolicies, type AttachablePolicy } from './waypoint-policies.js';

const gw = (name: string): PolicyTargetRef => ({ group: 'gateway.networking.k8s.io', kind: 'Gateway', name });
const svc = (name: string): PolicyTargetRef => ({ group: '', kind: 'Service', name });
const p = (namespace: string, name: string, spec: AttachablePolicy['spec']): AttachablePolicy => ({ meta: { namespace, name }, spec });

const target = { gateway: { namespace: 'demo', name: 'echo' }, service: { namespace: 'demo', name: 'echo' } };
const names = (all: AttachablePolicy[], t: Parameters<typeof waypointPolicies>[1] = target) => waypointPolicies(all, t).map((x) => `${x.meta.namespace}/${x.meta.name}`);

describe('waypointPolicies()', () => {
  it('selects policies targeting the waypoint Gateway or the destination Service in their namespace', () => {
    const all = [
      p('demo', 'on-gateway', { targetRefs: [gw('echo')] }),
      p('demo', 'on-service', { targetRefs: [svc('echo')] }),
      p('demo', 'other-gateway', { targetRefs: [gw('other')] }),
      p('demo', 'other-service', { targetRefs: [svc('web')] }),
      p('other', 'same-names-elsewhere', { targetRefs: [gw('echo'), svc('echo')] }),
      p('demo', 'wrong-group', { targetRefs: [{ group: 'example.com', kind: 'Gateway', name: 'echo' }, { group: 'gateway.networking.k8s.io', kind: 'Service', name: 'echo' }] }),
      p('demo', 'cross-namespace-ref', { targetRefs: [{ ...gw('echo'), namespace: 'other' }] }),
      p('demo', 'one-of-many', { targetRefs: [svc('web'), svc('echo')] }),
    ];
    assert.deepEqual(names(all), ['demo/on-gateway', 'demo/on-service', 'demo/one-of-many']);
  });

  it('leaves Service-targeted policies out for pod-addressed traffic', () => {
    const all = [p('demo', 'on-gateway', { targetRefs: [gw('echo')] }), p('demo', 'on-service', { targetRefs: [svc('echo')] })];
    assert.deepEqual(names(all, { gateway: target.gateway }), ['demo/on-gateway']);
  });

  it('selects the istio-waypoint GatewayClass only from the root namespace', () => {
    const cls: PolicyTargetRef = { group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' };
    const all = [p('istio-system', 'mesh', { targetRefs: [cls] }), p('demo', 'not-root', { targetRefs: [cls] }), p('istio-system', 'other-class', { targetRefs: [{ ...cls, name: 'istio' }] })];
    assert.deepEqual(names(all), ['istio-system/mesh']);
    assert.deepEqual(names(all, { ...target, rootNamespace: 'mesh-root' }), []);
  });

  it('selects istio.io/gateway-name selectors for this gateway in its namespace only (per-service-account design)', () => {
    const all = [
      p('demo', 'by-label', { selector: { matchLabels: { 'istio.io/gateway-name': 'echo' } }, targetRefs: [] }),
      p('demo', 'other-gw', { selector: { matchLabels: { 'istio.io/gateway-name': 'web' } }, targetRefs: [] }),
      p('other', 'other-ns', { selector: { matchLabels: { 'istio.io/gateway-name': 'echo' } }, targetRefs: [] }),
      p('demo', 'workload-selector', { selector: { matchLabels: { app: 'echo' } }, targetRefs: [] }),
      p('demo', 'namespace-wide', { targetRefs: [] }),
    ];
    assert.deepEqual(names(all), ['demo/by-label']);
  });

  it('keeps the caller\'s type, so RequestAuthentication is selected by the same function', () => {
    const ra = { kind: 'RequestAuthentication' as const, meta: { namespace: 'demo', name: 'jwt' }, spec: { targetRefs: [gw('echo')], jwtRules: [] } };
    const [picked] = waypointPolicies([ra], target);
    assert.equal(picked?.kind, 'RequestAuthentication');
  });
});
