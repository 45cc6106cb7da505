import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileModel } from './compile-model.js';
import { decodeDocument, type Resource } from './decode.js';
import type { Workload } from './model.js';
import { parseYamlDocuments } from './yaml-documents.js';

const fixture = new URL('../../../test/fixtures/mesh/core.yaml', import.meta.url);
const waypointFixture = new URL('../../../test/fixtures/mesh/waypoint.yaml', import.meta.url);

function load(text: string): Resource[] {
  const { documents, errors } = parseYamlDocuments(text, 'core.yaml');
  assert.deepEqual(errors, []);
  return documents.flatMap((d) => {
    const r = decodeDocument(d.value, { source: 'core.yaml', document: d.index });
    assert.deepEqual(r.errors, []);
    return r.resource ? [r.resource] : [];
  });
}

describe('compileModel', () => {
  const { model, warnings } = compileModel(load(readFileSync(fixture, 'utf8')), { trustDomain: 'cluster.local' });
  const wl = (name: string): Workload | undefined => model.workloads.find((w) => w.name === name);

  it('enrolls pods of an ambient namespace for HBONE and leaves other namespaces plain', () => {
    assert.equal(wl('echo-v1')?.tunnelProtocol, 'HBONE');
    assert.equal(wl('client')?.tunnelProtocol, 'HBONE');
    assert.equal(wl('old-app')?.tunnelProtocol, 'NONE');
  });

  it('lets a pod opt out with istio.io/dataplane-mode=none, and never captures host-network pods', () => {
    assert.equal(wl('opted-out')?.tunnelProtocol, 'NONE');
    assert.equal(wl('node-agent')?.tunnelProtocol, 'NONE');
    assert.equal(wl('node-agent')?.networkMode, 'HOST_NETWORK');
  });

  it('gives each workload a stable uid, its node, identity parts, health and canonical labels', () => {
    const w = wl('echo-v2')!;
    assert.equal(w.uid, 'Kubernetes//Pod/demo/echo-v2');
    assert.equal(w.node, 'node-2');
    assert.equal(w.serviceAccount, 'echo');
    assert.equal(w.trustDomain, 'cluster.local');
    assert.equal(w.status, 'UNHEALTHY');
    assert.equal(wl('echo-v1')!.status, 'HEALTHY');
    assert.equal(w.canonicalName, 'echo');
    assert.equal(w.canonicalRevision, 'v2');
    assert.equal(wl('client')!.canonicalRevision, 'latest');
  });

  it('resolves named target ports per pod and keeps numeric ones', () => {
    assert.deepEqual(wl('echo-v1')!.services['demo/echo.demo.svc.cluster.local'], [
      { servicePort: 80, targetPort: 8080 },
      { servicePort: 9000, targetPort: 9000 },
    ]);
    assert.deepEqual(wl('echo-v2')!.services['demo/echo.demo.svc.cluster.local'], [
      { servicePort: 80, targetPort: 8081 },
      { servicePort: 9000, targetPort: 9000 },
    ]);
    const echo = model.services.find((s) => s.name === 'echo')!;
    assert.deepEqual(echo.ports[0], { servicePort: 80, targetPort: 0, targetPortName: 'http' });
    assert.equal(echo.hostname, 'echo.demo.svc.cluster.local');
    assert.deepEqual(echo.addresses, ['10.96.0.20']);
  });

  it('models a headless service with no addresses but its endpoints', () => {
    const headless = model.services.find((s) => s.name === 'echo-headless')!;
    assert.equal(headless.headless, true);
    assert.deepEqual(headless.addresses, []);
    assert.deepEqual(wl('echo-v1')!.services['demo/echo-headless.demo.svc.cluster.local'], [{ servicePort: 8080, targetPort: 8080 }]);
  });

  it('warns about a service that selects no pod, and still models it', () => {
    assert.deepEqual(warnings.map((w) => `${w.namespace}/${w.name} ${w.path}: ${w.reason}`), ['demo/nobody spec.selector: selects no pod']);
    assert.ok(model.services.some((s) => s.name === 'nobody'));
  });

  it('skips a pod without an IP yet, and pods that finished', () => {
    const extra = load(`apiVersion: v1\nkind: Pod\nmetadata: {name: pending, namespace: demo}\nspec: {containers: []}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: done, namespace: demo}\nspec: {containers: []}\nstatus: {podIP: 10.9.9.9, phase: Succeeded}\n`);
    const r = compileModel(extra, { trustDomain: 'cluster.local' });
    assert.deepEqual(r.model.workloads, []);
  });

  it('is deterministic: the same input gives the same model', () => {
    const again = compileModel(load(readFileSync(fixture, 'utf8')).reverse(), { trustDomain: 'cluster.local' });
    assert.deepEqual(JSON.parse(JSON.stringify(again.model)), JSON.parse(JSON.stringify(model)));
  });

  it('binds the workloads of a service account to its waypoint, and only those', () => {
    const text = readFileSync(fixture, 'utf8') + '---\n' + readFileSync(waypointFixture, 'utf8');
    const r = compileModel(load(text), { trustDomain: 'cluster.local' });
    const byName = (n: string) => r.model.workloads.find((w) => w.name === n)!;
    assert.deepEqual(byName('echo-v1').waypoint, {
      gateway: 'demo/echo',
      service: 'demo/echo-istio-waypoint.demo.svc.cluster.local',
      hbonePort: 15008,
      identity: { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'echo-istio-waypoint' },
    });
    assert.ok(byName('echo-v2').waypoint);
    assert.equal(byName('client').waypoint, undefined);
    assert.equal(byName('old-app').waypoint, undefined);
  });

  it('warns about a second waypoint for the same service account and keeps the first by name', () => {
    const second = readFileSync(waypointFixture, 'utf8').replace('name: echo\n  namespace', 'name: echo-b\n  namespace');
    const text = readFileSync(fixture, 'utf8') + '---\n' + readFileSync(waypointFixture, 'utf8') + '---\n' + second;
    const r = compileModel(load(text), { trustDomain: 'cluster.local' });
    assert.equal(r.model.workloads.find((w) => w.name === 'echo-v1')!.waypoint?.gateway, 'demo/echo');
    assert.ok(r.warnings.some((w) => w.name === 'echo-b' && /already has waypoint demo\/echo/.test(w.reason)));
  });
});
