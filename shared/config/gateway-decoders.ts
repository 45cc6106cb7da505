// Decoders for gateway.networking.k8s.io Gateway and HTTPRoute (v1; v1beta1 has the same schema),
// applying the validation the CRDs carry (OpenAPI limits and CEL rules in apis/v1), plus
// waypointFor(): whether a Gateway is an Istio-style per-service-account waypoint.
import { isIP } from 'node:net';
import { dns1123Subdomain, type FieldReader } from './field-reader.js';
import { gatewayHostname, groupName, kindName, objectName, protocolType, sectionName } from './gateway-api-names.js';
import type { AllowedRoutes, GatewayAddress, GatewayApiResource, GatewayResource, Listener, RouteGroupKind } from './gateway-resources.js';
import { decodeHTTPRoute } from './httproute-decoder.js';
import type { KindDecoder } from './kind-decoder.js';
import type { ObjectMeta } from './resources.js';

/** istio-ambient-facts §6: class, annotation and the single HBONE listener of an SA waypoint. */
export const waypointGatewayClass = 'istio-waypoint';
export const forServiceAccountAnnotation = 'istio.io/for-service-account';
export const waypointListener = { name: 'mesh', port: 15008, protocol: 'HBONE' } as const;

function readAllowedRoutes(l: FieldReader): AllowedRoutes {
  const a = l.object('allowedRoutes');
  const ns = a?.object('namespaces');
  const fromText = ns?.string('from') ?? 'Same';
  let from: AllowedRoutes['namespaces']['from'] = 'Same';
  if (fromText === 'All' || fromText === 'Same' || fromText === 'Selector') from = fromText;
  else ns?.error('from', 'must be one of All, Same, Selector');
  let selector: Record<string, string> | undefined;
  if (from === 'Selector') {
    const sel = ns?.object('selector', { required: true });
    if (sel?.has('matchExpressions')) sel.error('matchExpressions', 'is not supported by Ambit yet; use matchLabels');
    selector = sel?.stringMap('matchLabels', { labels: true });
  }
  const kinds: RouteGroupKind[] = [];
  for (const k of a?.objects('kinds', { max: 8 }) ?? []) {
    const kind = k.string('kind', { required: true, pattern: kindName, what: 'a valid kind' });
    const group = k.string('group', { pattern: groupName, what: 'a valid API group' }) ?? 'gateway.networking.k8s.io';
    if (kind !== undefined) kinds.push({ group, kind });
  }
  return { namespaces: { from, ...(selector ? { selector } : {}) }, kinds };
}

function readListeners(spec: FieldReader): Listener[] {
  const listeners: Listener[] = [];
  const entries = spec.objects('listeners', { required: true, max: 64 });
  if (spec.has('listeners') && entries.length === 0) spec.error('listeners', 'must have at least one listener');
  const names = new Set<string>();
  const combos = new Set<string>();
  for (const l of entries) {
    const name = l.string('name', { required: true, pattern: sectionName, what: 'a valid listener name' });
    const port = l.integer('port', { required: true, min: 1, max: 65535 });
    const protocol = l.string('protocol', { required: true, pattern: protocolType, what: 'a valid protocol' });
    const hostname = l.string('hostname', { pattern: gatewayHostname, what: 'a valid hostname' });
    if (hostname !== undefined && (protocol === 'TCP' || protocol === 'UDP')) l.error('hostname', `must not be set for protocol ${protocol}`);
    if (l.has('tls') && (protocol === 'HTTP' || protocol === 'TCP' || protocol === 'UDP')) l.error('tls', `must not be set for protocol ${protocol}`);
    const allowedRoutes = readAllowedRoutes(l);
    if (name === undefined || port === undefined || protocol === undefined) continue;
    if (names.has(name)) {
      l.error('name', `duplicate listener name ${JSON.stringify(name)}: listener names must be unique within the Gateway`);
      continue;
    }
    const combo = `${port}/${protocol}/${hostname ?? ''}`;
    if (combos.has(combo)) {
      l.error('port', 'the combination of port, protocol and hostname must be unique for each listener');
      continue;
    }
    names.add(name);
    combos.add(combo);
    listeners.push({ name, port, protocol, allowedRoutes, ...(hostname !== undefined ? { hostname } : {}) });
  }
  return listeners;
}

function readAddresses(spec: FieldReader): GatewayAddress[] {
  return spec.objects('addresses', { max: 16 }).flatMap((a) => {
    const type = a.string('type') ?? 'IPAddress';
    const value = a.string('value', { required: true, maxLength: 253 });
    if (value === undefined) return [];
    if (type === 'IPAddress' && isIP(value) === 0) return a.error('value', `${JSON.stringify(value.slice(0, 60))} is not an IP address`) ?? [];
    if (type === 'Hostname' && !gatewayHostname.test(value)) return a.error('value', `${JSON.stringify(value.slice(0, 60))} is not a valid hostname`) ?? [];
    return [{ type, value }];
  });
}

/**
 * A Gateway of class istio-waypoint must carry the waypoint listener (mesh/15008/HBONE) and, when
 * scoped to a service account, a valid account name. Problems are reported on the field at fault.
 */
function checkWaypoint(doc: FieldReader, spec: FieldReader, meta: ObjectMeta, listeners: readonly Listener[]): void {
  const mesh = listeners.findIndex((l) => l.name === waypointListener.name);
  const listener = listeners[mesh];
  if (!listener) {
    spec.error('listeners', `an ${waypointGatewayClass} Gateway needs a listener named "mesh" on port 15008 with protocol HBONE`);
  } else {
    const at = spec.objects('listeners').find((l) => l.value.name === waypointListener.name);
    if (listener.port !== waypointListener.port) at?.error('port', `must be 15008 on the waypoint listener "mesh", got ${listener.port}`);
    if (listener.protocol !== waypointListener.protocol) at?.error('protocol', `must be HBONE on the waypoint listener "mesh", got ${JSON.stringify(listener.protocol)}`);
  }
  const sa = meta.annotations[forServiceAccountAnnotation];
  if (sa !== undefined && !dns1123Subdomain.test(sa)) {
    doc.error(`metadata.annotations.${forServiceAccountAnnotation}`, `${JSON.stringify(sa.slice(0, 60))} is not a valid service account name`);
  }
}

export function decodeGateway(doc: FieldReader, meta: ObjectMeta): GatewayResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const gatewayClassName = spec.string('gatewayClassName', { required: true, pattern: objectName, what: 'a valid GatewayClass name' });
  const listeners = readListeners(spec);
  const addresses = readAddresses(spec);
  if (gatewayClassName === undefined || listeners.length === 0) return undefined;
  if (gatewayClassName === waypointGatewayClass) checkWaypoint(doc, spec, meta, listeners);
  return { kind: 'Gateway', meta, spec: { gatewayClassName, listeners, addresses } };
}

/**
 * The service account a Gateway is the waypoint for: class istio-waypoint, annotation
 * istio.io/for-service-account, and the mesh/15008/HBONE listener. Undefined for anything else,
 * including namespace- or service-scoped waypoints, which carry no such annotation.
 */
export function waypointFor(gateway: GatewayResource): { serviceAccount: string } | undefined {
  if (gateway.spec.gatewayClassName !== waypointGatewayClass) return undefined;
  const serviceAccount = gateway.meta.annotations[forServiceAccountAnnotation];
  if (serviceAccount === undefined || !dns1123Subdomain.test(serviceAccount)) return undefined;
  const ok = gateway.spec.listeners.some((l) => l.name === waypointListener.name && l.port === waypointListener.port && l.protocol === waypointListener.protocol);
  return ok ? { serviceAccount } : undefined;
}

const gatewayApiVersions = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'] as const;

export const gatewayDecoders: Readonly<Record<string, KindDecoder<GatewayApiResource>>> = {
  Gateway: { apiVersions: gatewayApiVersions, namespaced: true, decode: decodeGateway },
  HTTPRoute: { apiVersions: gatewayApiVersions, namespaced: true, decode: decodeHTTPRoute },
};
