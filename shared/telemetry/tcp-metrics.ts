// Istio's TCP metrics (facts §7.1), so users' dashboards work unchanged: connections opened /
// closed / failed, bytes each way, open sockets, build info. Labels are Istio's
// CommonTrafficLabels; missing values render as `unknown`, principals as full spiffe:// URIs.
// One TcpMetrics per process, on the registry it is given (never the global one).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Service, Workload } from '../config/model.js';
import { identityUri, type Identity } from '../identity/spiffe.js';

export type Reporter = 'source' | 'destination' | 'waypoint';

/** Istio's response_flags for TCP. */
export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'H2_HANDSHAKE_FAILURE' | 'NETWORK_POLICY' | 'IDENTITY_ERROR' | 'CERT_REVOKED';

export const trafficLabelNames = [
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_service', 'destination_service_namespace', 'destination_service_name',
  'destination_workload', 'destination_canonical_service', 'destination_canonical_revision', 'destination_workload_namespace',
  'destination_principal', 'destination_app', 'destination_version', 'destination_cluster',
  'request_protocol', 'response_flags', 'connection_security_policy',
] as const;

export type TrafficLabels = Record<(typeof trafficLabelNames)[number], string>;

const unknown = 'unknown';

/**
 * The workload (controller) name Istio reports: a Deployment's pods are `<deployment>-<pod-template-hash>-<5 chars>`,
 * so with the `pod-template-hash` label that suffix is removed; anything else reports the pod name.
 */
export function workloadName(w: Pick<Workload, 'name' | 'labels'>): string {
  const hash = w.labels['pod-template-hash'];
  if (hash) {
    const m = new RegExp(`^(.+)-${hash.replace(/[^a-z0-9]/g, '')}-[a-z0-9]{5}$`).exec(w.name);
    if (m?.[1]) return m[1];
  }
  return w.name;
}

export interface TrafficParties {
  readonly reporter: Reporter;
  readonly source?: Workload;
  /** The authenticated peer (mTLS), or the source workload's identity on the outbound side. */
  readonly sourcePrincipal?: Identity;
  readonly destination?: Workload;
  readonly destinationPrincipal?: Identity;
  readonly service?: Service;
  readonly clusterId?: string;
  readonly mtls: boolean;
  readonly flag?: ResponseFlag;
}

export function trafficLabels(p: TrafficParties): TrafficLabels {
  const src = p.source;
  const dst = p.destination;
  const cluster = p.clusterId ?? 'Kubernetes';
  return {
    reporter: p.reporter,
    source_workload: src ? workloadName(src) : unknown,
    source_canonical_service: src?.canonicalName ?? unknown,
    source_canonical_revision: src?.canonicalRevision ?? unknown,
    source_workload_namespace: src?.namespace ?? unknown,
    source_principal: p.sourcePrincipal ? identityUri(p.sourcePrincipal) : unknown,
    source_app: src?.labels['app'] ?? src?.canonicalName ?? unknown,
    source_version: src?.labels['version'] ?? src?.canonicalRevision ?? unknown,
    source_cluster: src ? cluster : unknown,
    destination_service: p.service?.hostname ?? unknown,
    destination_service_namespace: p.service?.namespace ?? unknown,
    destination_service_name: p.service?.name ?? unknown,
    destination_workload: dst ? workloadName(dst) : unknown,
    destination_canonical_service: dst?.canonicalName ?? unknown,
    destination_canonical_revision: dst?.canonicalRevision ?? unknown,
    destination_workload_namespace: dst?.namespace ?? unknown,
    destination_principal: p.destinationPrincipal ? identityUri(p.destinationPrincipal) : unknown,
    destination_app: dst?.labels['app'] ?? dst?.canonicalName ?? unknown,
    destination_version: dst?.labels['version'] ?? dst?.canonicalRevision ?? unknown,
    destination_cluster: dst ? cluster : unknown,
    request_protocol: 'tcp',
    response_flags: p.flag ?? '-',
    connection_security_policy: p.mtls ? 'mutual_tls' : unknown,
  };
}

export class TcpMetrics {
  readonly opened: Counter<string>;
  readonly closed: Counter<string>;
  readonly failed: Counter<string>;
  readonly sent: Counter<string>;
  readonly received: Counter<string>;
  readonly socketsOpen: Gauge<string>;

  constructor(registry: Registry, build: { component: string; tag: string }) {
    const labelNames = [...trafficLabelNames];
    const registers = [registry];
    this.opened = new Counter({ name: 'istio_tcp_connections_opened_total', help: 'The total number of TCP connections opened', labelNames, registers });
    this.closed = new Counter({ name: 'istio_tcp_connections_closed_total', help: 'The total number of TCP connections closed', labelNames, registers });
    this.failed = new Counter({ name: 'istio_tcp_connections_failed_total', help: 'The total number of TCP connections that failed to establish', labelNames, registers });
    this.sent = new Counter({ name: 'istio_tcp_sent_bytes_total', help: 'The size of total bytes sent during response in case of a TCP connection', labelNames, registers });
    this.received = new Counter({ name: 'istio_tcp_received_bytes_total', help: 'The size of total bytes received during request in case of a TCP connection', labelNames, registers });
    this.socketsOpen = new Gauge({ name: 'istio_tcp_sockets_open', help: 'The current number of open TCP sockets', labelNames: ['reporter'], registers });
    const info = new Gauge({ name: 'istio_build', help: 'Istio component build info', labelNames: ['component', 'tag'], registers });
    info.set(build, 1);
  }

  /** A connection was established (the upstream is connected). */
  open(labels: TrafficLabels): void {
    this.opened.inc(labels);
    this.socketsOpen.inc({ reporter: labels.reporter });
  }

  /** An established connection ended; bytes are counted once, at the end. */
  close(labels: TrafficLabels, bytes: { sent: number; received: number }): void {
    this.closed.inc(labels);
    this.socketsOpen.dec({ reporter: labels.reporter });
    if (bytes.sent > 0) this.sent.inc(labels, bytes.sent);
    if (bytes.received > 0) this.received.inc(labels, bytes.received);
  }

  /** A connection that never got established (denied, no upstream, handshake failure...). */
  fail(labels: TrafficLabels): void {
    this.failed.inc(labels);
  }
}
