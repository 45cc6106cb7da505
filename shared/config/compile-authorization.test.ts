import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileModel } from './compile-model.js';
import { decodeDocument, type Resource } from './decode.js';
import { parseYamlDocuments } from './yaml-documents.js';

function load(text: string): Resource[] {
  const { documents, errors } = parseYamlDocuments(text, 'authz.yaml');
  assert.deepEqual(errors, []);
  return documents.flatMap((d) => {
    const r = decodeDocument(d.value, { source: 'authz.yaml', document: d.index });
    assert.deepEqual(r.errors.map((e) => `${e.path}: ${e.reason}`), []);
    return r.resource ? [r.resource] : [];
  });
}

const base = `
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: demo, labels: {app: web}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: demo, labels: {app: db}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: other, labels: {app: api}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.3}
`;

const compile = (extra: string) => compileModel(load(`${base}---\n${extra}`), { trustDomain: 'cluster.local' });

describe('compiling authorization for ztunnel', () => {
  it('scopes policies GLOBAL (root namespace), NAMESPACE (no selector) and WORKLOAD_SELECTOR (listed on selected workloads)', () => {
    const { model } = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny, namespace: istio-system}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [untrusted]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ns-allow, namespace: demo}
spec: {action: ALLOW, rules: [{from: [{source: {namespaces: [demo]}}]}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-only-web, namespace: demo}
spec:
  selector: {matchLabels: {app: db}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/web]}}], to: [{operation: {ports: ["5432"]}}]}]
`);
    const scopes = Object.fromEntries(model.authorizations.map((a) => [a.name, a.scope]));
    assert.deepEqual(scopes, { 'istio-system/mesh-deny': 'GLOBAL', 'demo/ns-allow': 'NAMESPACE', 'demo/db-only-web': 'WORKLOAD_SELECTOR' });
    const wl = (n: string) => model.workloads.find((w) => w.name === n)!;
    assert.deepEqual(wl('db').authorizationPolicies, ['demo/db-only-web']);
    assert.deepEqual(wl('web').authorizationPolicies, []);
    assert.equal(model.authorizations.find((a) => a.name === 'demo/db-only-web')!.rules[0]!.needsL7, false);
  });

  it('leaves policies with targetRefs to waypoints', () => {
    const { model } = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: l7, namespace: demo}
spec:
  targetRefs: [{kind: Service, group: "", name: web}]
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET]}}]}]
`);
    assert.deepEqual(model.authorizations, []);
  });

  it('marks rules that need L7 and warns that ztunnel fails closed on them', () => {
    const { model, warnings } = compile(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET], ports: ["8080"]}}]}]
`);
    assert.equal(model.authorizations[0]!.rules[0]!.needsL7, true);
    assert.ok(warnings.some((w) => w.name === 'get-only' && /never match at ztunnel \(fails closed\)/.test(w.reason)));
  });

  it('folds a mesh-wide STRICT PeerAuthentication into one shared DENY of plaintext', () => {
    const { model } = compile(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
`);
    const pa = model.authorizations.filter((a) => a.name.includes('converted_peer_authentication'));
    assert.equal(pa.length, 1);
    assert.equal(pa[0]!.action, 'DENY');
    assert.deepEqual(pa[0]!.rules[0]!.rule.from[0]!.notPrincipals, ['*']);
    for (const w of model.workloads) assert.deepEqual(w.authorizationPolicies, ['istio-system/converted_peer_authentication_strict']);
  });

  it('lets a namespace PERMISSIVE override the mesh, and a workload override its namespace, with port-level exceptions', () => {
    const { model } = compile(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: relaxed, namespace: other}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: db-metrics, namespace: demo}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: STRICT}
  portLevelMtls: {"9090": {mode: PERMISSIVE}}
`);
    const wl = (n: string) => model.workloads.find((w) => w.name === n)!;
    assert.deepEqual(wl('api').authorizationPolicies, [], 'namespace PERMISSIVE wins over mesh STRICT');
    assert.deepEqual(wl('web').authorizationPolicies, ['istio-system/converted_peer_authentication_strict']);
    assert.deepEqual(wl('db').authorizationPolicies, ['istio-system/converted_peer_authentication_strict_except_9090']);
    const except = model.authorizations.find((a) => a.name.endsWith('strict_except_9090'))!;
    assert.deepEqual(except.rules[0]!.rule.to[0]!.notPorts, [9090]);
  });

  it('makes single ports STRICT on a PERMISSIVE workload, and ignores DISABLE', () => {
    const { model } = compile(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web-admin, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: DISABLE}
  portLevelMtls: {"9000": {mode: STRICT}}
`);
    const web = model.workloads.find((w) => w.name === 'web')!;
    assert.deepEqual(web.authorizationPolicies, ['istio-system/converted_peer_authentication_strict_ports_9000']);
    const rule = model.authorizations.find((a) => a.name.endsWith('strict_ports_9000'))!.rules[0]!.rule;
    assert.deepEqual(rule.to[0]!.ports, [9000]);
  });

  it('warns about a selector policy naming a port no selected workload exposes', () => {
    const text = base.replace('metadata: {name: db, namespace: demo, labels: {app: db}}\nspec: {containers: [{name: c}]}',
      'metadata: {name: db, namespace: demo, labels: {app: db}}\nspec: {containers: [{name: c, ports: [{containerPort: 5432}]}]}');
    const { warnings } = compileModel(load(`${text}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-port, namespace: demo}
spec:
  selector: {matchLabels: {app: db}}
  action: ALLOW
  rules: [{to: [{operation: {ports: ["80", "5432"]}}]}]
`), { trustDomain: 'cluster.local' });
    const messages = warnings.map((w) => `${w.namespace}/${w.name} ${w.path}: ${w.reason}`);
    assert.deepEqual(messages.filter((m) => m.includes('db-port')), [
      'demo/db-port spec.rules[0].to[0].operation.ports: port 80 is not a port of any workload this policy selects (they expose 5432); policies match the workload\'s port, not the service port',
    ]);
  });
});
