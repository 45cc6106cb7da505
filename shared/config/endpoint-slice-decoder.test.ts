import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from './config-error.js';
import { decodeDocument } from './decode.js';
import type { EndpointSliceResource } from './resources.js';
import { parseYamlDocuments } from './yaml-documents.js';

function decodeYaml(text: string): { slice?: EndpointSliceResource; errors: string[] } {
  const { documents, errors } = parseYamlDocuments(text, 'mesh.yaml');
  assert.deepEqual(errors, []);
  const r = decodeDocument(documents[0]!.value, { source: 'mesh.yaml', document: 0 });
  return { ...(r.resource ? { slice: r.resource as EndpointSliceResource } : {}), errors: r.errors.map(formatConfigError) };
}

const slice = (body: string, apiVersion = 'discovery.k8s.io/v1'): string => `apiVersion: ${apiVersion}
kind: EndpointSlice
metadata: {name: db-1, namespace: demo, labels: {kubernetes.io/service-name: db}}
${body}`;

describe('decodeEndpointSlice', () => {
  it('decodes addresses, conditions, a pod targetRef, the node and named ports', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: false, serving: true, terminating: true}
  targetRef: {kind: Pod, name: db-0}
  nodeName: node-1
- addresses: [192.168.1.20]
ports:
- {name: sql, port: 5432, protocol: TCP, appProtocol: postgresql}
- {name: metrics, port: 9100}
`));
    assert.deepEqual(errors, []);
    assert.equal(s?.meta.labels['kubernetes.io/service-name'], 'db');
    assert.equal(s?.addressType, 'IPv4');
    assert.deepEqual(s?.endpoints, [
      { addresses: ['10.1.0.5'], ready: false, serving: true, terminating: true, targetPod: { namespace: 'demo', name: 'db-0' }, nodeName: 'node-1' },
      { addresses: ['192.168.1.20'] },
    ]);
    assert.deepEqual(s?.ports, [
      { name: 'sql', port: 5432, protocol: 'TCP', appProtocol: 'postgresql' },
      { name: 'metrics', port: 9100, protocol: 'TCP' },
    ]);
  });

  it('keeps targetRefs to other kinds out and reads an unnamed port as ""', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv6
endpoints:
- addresses: ["fd00::5"]
  targetRef: {kind: Node, name: node-1}
ports: [{port: 80}]
`));
    assert.deepEqual(errors, []);
    assert.deepEqual(s?.endpoints, [{ addresses: ['fd00::5'] }]);
    assert.deepEqual(s?.ports, [{ name: '', port: 80, protocol: 'TCP' }]);
  });

  it('accepts v1beta1 and takes the node from its kubernetes.io/hostname topology', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  topology: {kubernetes.io/hostname: node-2}
`, 'discovery.k8s.io/v1beta1'));
    assert.deepEqual(errors, []);
    assert.equal(s?.endpoints[0]?.nodeName, 'node-2');
  });

  it('decodes an FQDN slice (the compiler ignores it)', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: FQDN
endpoints: [{addresses: [db.example.com]}]
`));
    assert.deepEqual(errors, []);
    assert.deepEqual(s?.endpoints, [{ addresses: ['db.example.com'] }]);
  });

  it('rejects a missing or unknown addressType, naming the field', () => {
    assert.deepEqual(decodeYaml(slice('endpoints: []\n')), { errors: ['mesh.yaml, document 0: EndpointSlice demo/db-1 addressType: is required'] });
    assert.deepEqual(decodeYaml(slice('addressType: IPv5\n')), { errors: ['mesh.yaml, document 0: EndpointSlice demo/db-1 addressType: must be one of IPv4, IPv6, FQDN'] });
  });

  it('drops addresses of the wrong family or type and an endpoint left without any', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv4
endpoints:
- addresses: ["fd00::1", 10.1.0.7, 42]
- addresses: [not-an-ip]
- addresses: []
- {conditions: {ready: yes}}
`));
    assert.deepEqual(errors, [
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[0].addresses[0]: "fd00::1" is not an IPv4 address',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[0].addresses[2]: must be a string, got number 42',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[1].addresses[0]: "not-an-ip" is not an IPv4 address',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[3].addresses: is required',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[3].conditions.ready: must be true or false, got string "yes"',
    ]);
    assert.deepEqual(s?.endpoints, [{ addresses: ['10.1.0.7'] }]);
  });

  it('reports bad targetRefs, node names and endpoint lists by path', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  targetRef: {kind: Pod}
  nodeName: Node_1
- 7
`));
    assert.deepEqual(errors, [
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[1]: must be an object, got number 7',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[0].targetRef.name: is required',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints[0].nodeName: "Node_1" is not a valid node name',
    ]);
    assert.deepEqual(s?.endpoints, [{ addresses: ['10.1.0.5'] }]);
    assert.deepEqual(decodeYaml(slice('addressType: IPv4\nendpoints: {a: 1}\n')).errors, ['mesh.yaml, document 0: EndpointSlice demo/db-1 endpoints: must be a list, got an object']);
  });

  it('reports bad, duplicate and out-of-range ports and keeps the good ones', () => {
    const { slice: s, errors } = decodeYaml(slice(`addressType: IPv4
ports:
- {name: http, port: 80}
- {name: http, port: 81}
- {name: Bad_Name, port: 82}
- {name: big, port: 70000}
- {name: udp, port: 53, protocol: ICMP}
- {name: all}
`));
    assert.deepEqual(errors, [
      'mesh.yaml, document 0: EndpointSlice demo/db-1 ports[1].name: duplicate port name "http"',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 ports[2].name: "Bad_Name" is not a valid port name',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 ports[3].port: must be between 1 and 65535, got 70000',
      'mesh.yaml, document 0: EndpointSlice demo/db-1 ports[4].protocol: must be one of TCP, UDP, SCTP',
    ]);
    assert.deepEqual(s?.ports.map((p) => [p.name, p.port]), [['http', 80], ['udp', 53], ['all', undefined]]);
  });

  it('rejects other apiVersions of the kind', () => {
    assert.deepEqual(decodeYaml(slice('addressType: IPv4\n', 'discovery.k8s.io/v2')).errors, [
      'mesh.yaml, document 0: EndpointSlice demo/db-1 apiVersion: EndpointSlice must be discovery.k8s.io/v1 or discovery.k8s.io/v1beta1, got "discovery.k8s.io/v2"',
    ]);
  });
});
