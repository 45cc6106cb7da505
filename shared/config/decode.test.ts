import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError, type ConfigError } from './config-error.js';
import { decodeDocument } from './decode.js';
import type { PodResource, ServiceResource } from './resources.js';
import { parseYamlDocuments } from './yaml-documents.js';

function decodeYaml(text: string) {
  const { documents, errors } = parseYamlDocuments(text, 'mesh.yaml');
  const all: ConfigError[] = [...errors];
  const resources = documents.flatMap((d) => {
    const r = decodeDocument(d.value, { source: 'mesh.yaml', document: d.index, line: d.line });
    all.push(...r.errors);
    return r.resource ? [r.resource] : [];
  });
  return { resources, errors: all };
}

const pod = `apiVersion: v1
kind: Pod
metadata: {name: echo-v1-abc, namespace: demo, labels: {app: echo, version: v1}}
spec:
  nodeName: node-1
  serviceAccountName: echo
  containers:
  - name: echo
    ports: [{name: http, containerPort: 8080}, {containerPort: 9090, protocol: TCP}]
status:
  podIP: 10.1.0.5
  conditions: [{type: Ready, status: "True"}]
`;

const service = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: metrics, port: 9090}
`;

describe('decodeDocument', () => {
  it('decodes a pod with its node, service account, IPs, readiness and named ports', () => {
    const { resources, errors } = decodeYaml(pod);
    assert.deepEqual(errors, []);
    const p = resources[0] as PodResource;
    assert.equal(p.meta.namespace, 'demo');
    assert.deepEqual({ ...p.meta.labels }, { app: 'echo', version: 'v1' });
    assert.equal(p.spec.nodeName, 'node-1');
    assert.equal(p.spec.serviceAccountName, 'echo');
    assert.deepEqual(p.status.podIPs, ['10.1.0.5']);
    assert.equal(p.status.ready, true);
    assert.deepEqual(p.spec.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }, { containerPort: 9090, protocol: 'TCP' }]);
  });

  it('defaults the service account to "default" and the namespace to "default"', () => {
    const { resources } = decodeYaml('apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n');
    const p = resources[0] as PodResource;
    assert.equal(p.spec.serviceAccountName, 'default');
    assert.equal(p.meta.namespace, 'default');
    assert.equal(p.status.ready, true);
  });

  it('decodes a service with numeric and named target ports', () => {
    const { resources, errors } = decodeYaml(service);
    assert.deepEqual(errors, []);
    const s = resources[0] as ServiceResource;
    assert.deepEqual(s.spec.clusterIPs, ['10.96.0.10']);
    assert.equal(s.spec.headless, false);
    assert.deepEqual(s.spec.ports.map((p) => [p.port, p.targetPort]), [[80, 'http'], [9090, 9090]]);
    assert.deepEqual({ ...s.spec.selector }, { app: 'echo' });
  });

  it('decodes a headless service and a service without a selector', () => {
    const { resources } = decodeYaml('apiVersion: v1\nkind: Service\nmetadata: {name: h}\nspec: {clusterIP: None, ports: [{port: 80}]}\n');
    const s = resources[0] as ServiceResource;
    assert.equal(s.spec.headless, true);
    assert.deepEqual(s.spec.clusterIPs, []);
    assert.equal(s.spec.selector, undefined);
  });

  const bad: [string, string, RegExp][] = [
    ['an unknown kind', 'apiVersion: v1\nkind: Frobnicator\nmetadata: {name: x}\n', /mesh\.yaml, document 0, line 1: Frobnicator x kind: unknown kind "Frobnicator"/],
    ['a wrong apiVersion', 'apiVersion: apps/v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n', /apiVersion: Pod must be v1/],
    ['a missing name', 'apiVersion: v1\nkind: Service\nmetadata: {namespace: a}\nspec: {ports: [{port: 1}]}\n', /metadata\.name: is required/],
    ['a bad name', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Name}\n', /metadata\.name: "Bad_Name" is not a valid Kubernetes name/],
    ['a port of the wrong type', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: "80"}]}\n', /Service default\/s spec\.ports\[0\]\.port: must be an integer, got string "80"/],
    ['a port out of range', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 70000}]}\n', /spec\.ports\[0\]\.port: must be between 1 and 65535, got 70000/],
    ['a bad cluster IP', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.300, ports: [{port: 80}]}\n', /spec\.clusterIP: "10\.0\.0\.300" is not an IP address/],
    ['a bad pod IP', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: []}\nstatus: {podIP: 10.1.0.0/24}\n', /status\.podIP: "10\.1\.0\.0\/24" is not an IP address/],
    ['a duplicate service port', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{name: a, port: 80}, {name: b, port: 80}]}\n', /spec\.ports\[1\]\.port: duplicate port 80\/TCP/],
    ['unnamed ports in a multi-port service', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}, {port: 81}]}\n', /spec\.ports\[0\]\.name: is required when a service has more than one port/],
    ['a list where an object belongs', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: [1, 2]\n', /spec: must be an object, got a list/],
    ['a scalar document', '42\n', /a resource must be an object, got number 42/],
    ['a bad label', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: n, labels: {"bad key!": x}}\n', /metadata\.labels\.bad key!: is not a valid Kubernetes label/],
    ['a namespace on a cluster-scoped kind', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: n, namespace: x}\n', /metadata\.namespace: must not be set on a cluster-scoped kind/],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name} with file, document, kind, name, field and reason`, () => {
      const { errors } = decodeYaml(text);
      assert.ok(errors.length >= 1, 'an error is reported');
      const messages = errors.map(formatConfigError);
      assert.ok(messages.some((m) => expected.test(m)), `expected ${expected} in ${JSON.stringify(messages)}`);
    });
  }

  it('keeps decoding the good documents of a file that has bad ones', () => {
    const { resources, errors } = decodeYaml(`${pod}---\napiVersion: v1\nkind: Nope\nmetadata: {name: x}\n---\n${service}`);
    assert.deepEqual(resources.map((r) => r.kind), ['Pod', 'Service']);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.document, 1);
  });

  it('treats __proto__ and constructor as ordinary label keys, never as prototype changes', () => {
    const { resources } = decodeYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: n, annotations: {__proto__: x, constructor: y}}\n');
    const ann = resources[0]!.meta.annotations;
    assert.equal(Object.getPrototypeOf(ann), null);
    assert.equal(ann['constructor'], 'y');
    assert.equal(({} as Record<string, unknown>)['x'], undefined);
  });
});
