// Request headers of an outbound HBONE CONNECT, as ztunnel's create_hbone_request (facts §1.3):
// `forwarded: for="<src ip:port>"[;host=<service hostname>]`, OpenTelemetry `baggage`, and a
// W3C `traceparent` random per connection.
import { randomFillSync } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { OutgoingHttpHeaders } from 'node:http2';

export interface ConnectMetadata {
  readonly sourceIp: string;
  readonly sourcePort: number;
  /** The destination service's hostname, when the target is a known service. */
  readonly serviceHostname?: string;
  readonly baggage?: Readonly<{
    clusterName?: string;
    namespace?: string;
    workloadKind?: 'deployment' | 'cronjob' | 'pod' | 'job';
    workloadName?: string;
    serviceName?: string;
    serviceVersion?: string;
    region?: string;
    zone?: string;
  }>;
}

// RFC 7230 token / quoted-string safety: a value that is not this plain shape is left out.
const safeValue = /^[A-Za-z0-9._~:-]{1,253}$/;

export function buildForwarded(m: ConnectMetadata): string {
  const addr = isIPv6(m.sourceIp) ? `[${m.sourceIp}]:${m.sourcePort}` : `${m.sourceIp}:${m.sourcePort}`;
  const host = m.serviceHostname && safeValue.test(m.serviceHostname) ? `;host=${m.serviceHostname}` : '';
  return `for="${addr}"${host}`;
}

export function buildBaggage(b: NonNullable<ConnectMetadata['baggage']>): string {
  const entries: [string, string | undefined][] = [
    ['k8s.cluster.name', b.clusterName],
    ['k8s.namespace.name', b.namespace],
    [b.workloadKind ? `k8s.${b.workloadKind}.name` : 'k8s.pod.name', b.workloadName],
    ['service.name', b.serviceName],
    ['service.version', b.serviceVersion],
    ['cloud.region', b.region],
    ['cloud.availability_zone', b.zone],
  ];
  return entries
    .filter((e): e is [string, string] => typeof e[1] === 'string' && safeValue.test(e[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

// One randomFillSync per 170 connections instead of a randomBytes call each (3 % of the
// forwarder's CPU at high connection rates, measured in bench/).
const randomPool = Buffer.alloc(24 * 170);
let randomOffset = randomPool.length;

function random24(): Buffer {
  if (randomOffset + 24 > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomOffset += 24;
  return randomPool.subarray(randomOffset - 24, randomOffset);
}

/** `00-<32 hex trace id>-<16 hex parent id>-00`, never all-zero ids (W3C Trace Context §3.2). */
export function newTraceparent(): string {
  let bytes = random24();
  while (bytes.subarray(0, 16).every((b) => b === 0) || bytes.subarray(16).every((b) => b === 0)) bytes = random24();
  return `00-${bytes.toString('hex', 0, 16)}-${bytes.toString('hex', 16, 24)}-00`;
}

export function buildConnectHeaders(m: ConnectMetadata): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { forwarded: buildForwarded(m), traceparent: newTraceparent() };
  const baggage = m.baggage ? buildBaggage(m.baggage) : '';
  if (baggage) headers.baggage = baggage;
  return headers;
}

/**
 * The CONNECT's header fields for the lean engine, as node:http2's request() would send them:
 * `:method` and `:authority` first and not overridable, names lowercased (RFC 9113 §8.2.1),
 * numbers as strings, a list joined with ", ", other pseudo-headers dropped.
 */
export function connectRequestFields(authority: string, headers: OutgoingHttpHeaders | undefined): Record<string, string> {
  const fields: Record<string, string> = { ':method': 'CONNECT', ':authority': authority };
  if (headers === undefined) return fields;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */) continue;
    fields[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return fields;
}
