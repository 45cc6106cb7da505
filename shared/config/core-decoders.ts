// Decoders for the core kinds (v1 Namespace, ServiceAccount, Pod, Service): untrusted document in,
// validated resource or errors out. A decoder returns undefined when a field the resource cannot
// stand without is bad; lesser problems are reported and the field dropped.
import { isIP } from 'node:net';
import { dns1123Label, dns1123Subdomain, ianaServiceName, type FieldReader } from './field-reader.js';
import type { ContainerPort, NamespaceResource, ObjectMeta, PodResource, ServiceAccountResource, ServicePort, ServiceResource } from './resources.js';

const protocols = ['TCP', 'UDP', 'SCTP'] as const;

/** A port protocol (TCP when absent); a bad one is reported and read as TCP. */
export function protocolOf(r: FieldReader, key: string): (typeof protocols)[number] {
  const p = r.string(key);
  if (p === undefined) return 'TCP';
  if ((protocols as readonly string[]).includes(p)) return p as (typeof protocols)[number];
  r.error(key, `must be one of ${protocols.join(', ')}`);
  return 'TCP';
}

export function decodeNamespace(_doc: FieldReader, meta: ObjectMeta): NamespaceResource {
  return { kind: 'Namespace', meta };
}

export function decodeServiceAccount(_doc: FieldReader, meta: ObjectMeta): ServiceAccountResource {
  return { kind: 'ServiceAccount', meta };
}

export function decodePod(doc: FieldReader, meta: ObjectMeta): PodResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const ports: ContainerPort[] = [];
  const names = new Set<string>();
  for (const container of spec.objects('containers', { max: 256 })) {
    for (const p of container.objects('ports', { max: 1024 })) {
      const containerPort = p.integer('containerPort', { required: true, min: 1, max: 65535 });
      const name = p.string('name', { pattern: ianaServiceName, what: 'a valid port name (IANA service name)' });
      if (containerPort === undefined) continue;
      if (name !== undefined) {
        if (names.has(name)) {
          p.error('name', `duplicate port name ${JSON.stringify(name)} in the pod`);
          continue;
        }
        names.add(name);
      }
      ports.push({ containerPort, protocol: protocolOf(p, 'protocol'), ...(name !== undefined ? { name } : {}) });
    }
  }
  const status = doc.object('status');
  const podIPs: string[] = [];
  for (const entry of status?.objects('podIPs', { max: 2 }) ?? []) {
    const ip = entry.ip('ip', { required: true });
    if (ip !== undefined && !podIPs.includes(ip)) podIPs.push(ip);
  }
  const podIP = status?.ip('podIP');
  if (podIP !== undefined && !podIPs.includes(podIP)) podIPs.unshift(podIP);
  let ready = true;
  for (const c of status?.objects('conditions', { max: 64 }) ?? []) {
    if (c.string('type') === 'Ready') ready = c.string('status') === 'True';
  }
  const phase = status?.string('phase');
  if (phase === 'Succeeded' || phase === 'Failed') ready = false;
  const nodeName = spec.string('nodeName', { pattern: dns1123Subdomain, what: 'a valid node name' });
  return {
    kind: 'Pod',
    meta,
    spec: {
      serviceAccountName: spec.string('serviceAccountName', { pattern: dns1123Subdomain, what: 'a valid service account name' }) ?? 'default',
      hostNetwork: spec.boolean('hostNetwork') ?? false,
      ports,
      ...(nodeName !== undefined ? { nodeName } : {}),
    },
    status: { podIPs, ready, ...(phase !== undefined ? { phase } : {}) },
  };
}

const serviceTypes = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;

export function decodeService(doc: FieldReader, meta: ObjectMeta): ServiceResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const typeText = spec.string('type') ?? 'ClusterIP';
  if (!(serviceTypes as readonly string[]).includes(typeText)) {
    spec.error('type', `must be one of ${serviceTypes.join(', ')}`);
    return undefined;
  }
  const clusterIP = spec.string('clusterIP');
  const headless = clusterIP === 'None';
  const clusterIPs: string[] = [];
  if (!headless) {
    if (clusterIP !== undefined && clusterIP !== '') {
      const ip = spec.ip('clusterIP');
      if (ip === undefined) return undefined;
      clusterIPs.push(ip);
    }
    for (const { value, path } of spec.list('clusterIPs', { max: 2 })) {
      if (value === 'None') continue;
      if (typeof value !== 'string' || isIP(value) === 0) {
        spec.error(path.slice(spec.path.length + 1), `${JSON.stringify(value)} is not an IP address`);
        continue;
      }
      if (!clusterIPs.includes(value)) clusterIPs.push(value);
    }
  }
  const ports: ServicePort[] = [];
  const seen = new Set<string>();
  const portObjects = spec.objects('ports', { max: 1024 });
  for (const p of portObjects) {
    const port = p.integer('port', { required: true, min: 1, max: 65535 });
    const name = p.string('name', { pattern: dns1123Label, what: 'a valid port name' });
    if (portObjects.length > 1 && name === undefined) {
      p.error('name', 'is required when a service has more than one port');
    }
    let targetPort: number | string | undefined = port;
    if (p.has('targetPort')) {
      const raw = p.value.targetPort;
      if (typeof raw === 'number') targetPort = p.integer('targetPort', { min: 1, max: 65535 });
      else targetPort = p.string('targetPort', { pattern: ianaServiceName, what: 'a port number or a valid port name' });
    }
    if (port === undefined || targetPort === undefined) continue;
    const protocol = protocolOf(p, 'protocol');
    const key = `${port}/${protocol}`;
    if (seen.has(key)) {
      p.error('port', `duplicate port ${key}`);
      continue;
    }
    seen.add(key);
    const appProtocol = p.string('appProtocol', { maxLength: 253 });
    ports.push({ port, targetPort, protocol, ...(name !== undefined ? { name } : {}), ...(appProtocol !== undefined ? { appProtocol } : {}) });
  }
  const selector = spec.has('selector') ? spec.stringMap('selector', { labels: true }) : undefined;
  return {
    kind: 'Service',
    meta,
    spec: { type: typeText as (typeof serviceTypes)[number], clusterIPs, headless, ports, ...(selector !== undefined ? { selector } : {}) },
  };
}
