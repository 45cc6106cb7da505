// Decoder for `discovery.k8s.io` EndpointSlice (v1, and v1beta1 as served by Kubernetes 1.20):
// the endpoints of a Service that selects no pods. Validation follows the API server's
// (k8s.io/kubernetes pkg/apis/discovery/validation): addresses of the slice's address type,
// 1..100 per endpoint, at most 1000 endpoints and 100 ports, unique port names (DNS labels).
import { isIP } from 'node:net';
import { protocolOf } from './core-decoders.js';
import { dns1123Label, dns1123Subdomain, typeOf, type FieldReader } from './field-reader.js';
import { AddressType, type EndpointSliceResource, type ObjectMeta, type SliceEndpoint, type SlicePort } from './resources.js';

const addressTypes: readonly string[] = Object.values(AddressType);

/** v1beta1 put the node in `topology` (nodeName only arrived, alpha, in 1.20). */
const hostnameTopologyKey = 'kubernetes.io/hostname';

function validAddress(type: AddressType, value: string): boolean {
  if (type === AddressType.IPv4) return isIP(value) === 4;
  if (type === AddressType.IPv6) return isIP(value) === 6;
  return dns1123Subdomain.test(value);
}

function decodeEndpoint(e: FieldReader, type: AddressType, namespace: string, beta: boolean): SliceEndpoint | undefined {
  const addresses: string[] = [];
  for (const { value, path } of e.list('addresses', { required: true, max: 100 })) {
    const key = path.slice(e.path.length + 1);
    if (typeof value !== 'string') e.error(key, `must be a string, got ${typeOf(value)}`);
    else if (!validAddress(type, value)) e.error(key, `${JSON.stringify(value.slice(0, 60))} is not ${type === AddressType.Fqdn ? 'a valid FQDN' : `an ${type} address`}`);
    else if (!addresses.includes(value)) addresses.push(value);
  }
  const c = e.object('conditions');
  const ready = c?.boolean('ready');
  const serving = c?.boolean('serving');
  const terminating = c?.boolean('terminating');
  let targetPod: SliceEndpoint['targetPod'];
  const ref = e.object('targetRef');
  if (ref?.string('kind') === 'Pod') {
    const name = ref.string('name', { required: true, pattern: dns1123Subdomain, what: 'a valid pod name' });
    const ns = ref.string('namespace', { pattern: dns1123Label, what: 'a valid namespace name' }) ?? namespace;
    if (name !== undefined) targetPod = { namespace: ns, name };
  }
  let nodeName = e.string('nodeName', { pattern: dns1123Subdomain, what: 'a valid node name' });
  if (nodeName === undefined && beta && !e.has('nodeName')) {
    const topology = e.stringMap('topology');
    const host = topology[hostnameTopologyKey];
    if (host !== undefined && dns1123Subdomain.test(host)) nodeName = host;
  }
  if (addresses.length === 0) return undefined;
  return {
    addresses,
    ...(ready !== undefined ? { ready } : {}),
    ...(serving !== undefined ? { serving } : {}),
    ...(terminating !== undefined ? { terminating } : {}),
    ...(targetPod !== undefined ? { targetPod } : {}),
    ...(nodeName !== undefined ? { nodeName } : {}),
  };
}

function decodePorts(doc: FieldReader): SlicePort[] {
  const ports: SlicePort[] = [];
  const names = new Set<string>();
  for (const p of doc.objects('ports', { max: 100 })) {
    const name = p.has('name') ? p.string('name') : '';
    if (name === undefined) continue;
    if (name !== '' && !dns1123Label.test(name)) {
      p.error('name', `${JSON.stringify(name.slice(0, 80))} is not a valid port name`);
      continue;
    }
    if (names.has(name)) {
      p.error('name', `duplicate port name ${JSON.stringify(name)}`);
      continue;
    }
    // An absent port number means "all ports" in the API; kept so a later port's name is not reused.
    const port = p.has('port') ? p.integer('port', { min: 1, max: 65535 }) : undefined;
    if (p.has('port') && port === undefined) continue;
    names.add(name);
    const appProtocol = p.string('appProtocol', { maxLength: 253 });
    ports.push({ name, protocol: protocolOf(p, 'protocol'), ...(port !== undefined ? { port } : {}), ...(appProtocol !== undefined ? { appProtocol } : {}) });
  }
  return ports;
}

export function decodeEndpointSlice(doc: FieldReader, meta: ObjectMeta): EndpointSliceResource | undefined {
  const type = doc.string('addressType', { required: true });
  if (type === undefined) return undefined;
  if (!addressTypes.includes(type)) {
    doc.error('addressType', `must be one of ${addressTypes.join(', ')}`);
    return undefined;
  }
  const addressType = type as AddressType;
  const beta = doc.value.apiVersion === 'discovery.k8s.io/v1beta1';
  const endpoints: SliceEndpoint[] = [];
  for (const e of doc.objects('endpoints', { max: 1000 })) {
    const endpoint = decodeEndpoint(e, addressType, meta.namespace, beta);
    if (endpoint) endpoints.push(endpoint);
  }
  return { kind: 'EndpointSlice', meta, addressType, endpoints, ports: decodePorts(doc) };
}
