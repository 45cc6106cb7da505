import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigStore } from '../../shared/config/config-store.js';
import { buildRequest } from './build-request.js';

const fixtures = new URL('../../../test/fixtures/mesh/', import.meta.url);
const waypointDeployment = `apiVersion: v1
kind: Service
metadata: {name: echo-istio-waypoint, namespace: demo}
spec: {clusterIP: 10.96.0.50, selector: {app: echo-waypoint}, ports: [{name: mesh, port: 15008}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-waypoint-1, namespace: demo, labels: {app: echo-waypoint}}
spec: {nodeName: node-2, serviceAccountName: echo-istio-waypoint, containers: [{name: waypoint, ports: [{containerPort: 15008}]}]}
status: {podIP: 10.10.2.50}
`;

function index(withWaypoint: boolean, withWaypointService = true) {
  const store = new ConfigStore({ trustDomain: 'cluster.local' });
  store.update((r) => {
    r.applyText('core.yaml', readFileSync(new URL('core.yaml', fixtures), 'utf8'));
    if (withWaypoint) r.applyText('waypoint.yaml', readFileSync(new URL('waypoint.yaml', fixtures), 'utf8'));
    if (withWaypointService) r.applyText('waypoint-deploy.yaml', waypointDeployment);
  });
  assert.deepEqual(store.errors, []);
  return store.index;
}

const first = <T>(items: readonly T[]): T => items[0]!;
const client = '10.10.1.21';

describe('ztunnel buildRequest (outbound plan)', () => {
  it('load-balances service traffic over healthy endpoints and tunnels HBONE to podIP:15008 with the target port', () => {
    const plan = buildRequest(index(false), client, { ip: '10.96.0.20', port: 80 }, { pick: first });
    assert.equal(plan.kind, 'hbone');
    if (plan.kind !== 'hbone') return;
    // echo-v2 is not Ready: only echo-v1 (named port http -> 8080) is a candidate
    assert.deepEqual(plan.nextHop, { host: '10.10.1.11', port: 15008 });
    assert.equal(plan.authority, '10.10.1.11:8080');
    assert.deepEqual(plan.expectedIdentities, [{ trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'echo' }]);
    assert.equal(plan.via, 'direct');
    assert.equal(plan.service?.name, 'echo');
  });

  it('sends service traffic to the endpoint account\'s waypoint with the original VIP:port as authority', () => {
    const plan = buildRequest(index(true), client, { ip: '10.96.0.20', port: 80 }, { pick: first });
    assert.equal(plan.kind, 'hbone');
    if (plan.kind !== 'hbone') return;
    assert.equal(plan.via, 'waypoint');
    assert.deepEqual(plan.nextHop, { host: '10.10.2.50', port: 15008 }, 'a waypoint pod, not the VIP');
    assert.equal(plan.authority, '10.96.0.20:80');
    assert.deepEqual(plan.expectedIdentities, [{ trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'echo-istio-waypoint' }]);
  });

  it('sends pod-addressed traffic to the waypoint too, but not the waypoint\'s own upstream traffic', () => {
    const idx = index(true);
    const viaWp = buildRequest(idx, client, { ip: '10.10.1.11', port: 8080 });
    assert.equal(viaWp.kind === 'hbone' && viaWp.via, 'waypoint');
    const fromWaypoint = buildRequest(idx, '10.10.2.50', { ip: '10.10.1.11', port: 8080 });
    assert.equal(fromWaypoint.kind === 'hbone' && fromWaypoint.via, 'direct');
  });

  it('refuses rather than skip a waypoint whose service is unknown or has no pod up', () => {
    assert.deepEqual(buildRequest(index(true, false), client, { ip: '10.96.0.20', port: 80 }), { kind: 'refuse', reason: 'waypoint_unavailable' });
  });

  it('passes through to destinations outside the mesh, and to pods that are not enrolled', () => {
    assert.deepEqual(buildRequest(index(false), client, { ip: '93.184.216.34', port: 443 }), { kind: 'passthrough', target: { host: '93.184.216.34', port: 443 } });
    assert.deepEqual(buildRequest(index(false), client, { ip: '10.10.2.41', port: 80 }), { kind: 'passthrough', target: { host: '10.10.2.41', port: 80 } });
  });

  it('refuses unknown sources, unknown service ports, services without healthy endpoints and loops to its own ports', () => {
    const idx = index(false);
    assert.deepEqual(buildRequest(idx, '10.99.99.99', { ip: '10.96.0.20', port: 80 }), { kind: 'refuse', reason: 'unknown_source' });
    assert.deepEqual(buildRequest(idx, '10.10.1.31', { ip: '10.96.0.20', port: 80 }), { kind: 'refuse', reason: 'unknown_source' }, 'an opted-out pod is not ours to proxy');
    assert.deepEqual(buildRequest(idx, client, { ip: '10.96.0.20', port: 81 }), { kind: 'refuse', reason: 'no_service_port' });
    assert.deepEqual(buildRequest(idx, client, { ip: '10.96.0.30', port: 80 }), { kind: 'refuse', reason: 'no_healthy_upstream' });
    assert.deepEqual(buildRequest(idx, client, { ip: '127.0.0.1', port: 15001 }), { kind: 'refuse', reason: 'self_call' });
    assert.deepEqual(buildRequest(idx, client, { ip: '192.168.50.1', port: 15008 }, { localAddresses: new Set(['192.168.50.1']) }), { kind: 'refuse', reason: 'self_call' });
  });
});
