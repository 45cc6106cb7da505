// What every ztunnel listener shares: the node it serves, the model, certificates, connection
// tracking, telemetry and settings. Built once by Ztunnel and passed in (nothing global).
import type { Workload } from '../shared/config/model.js';
import type { CertStore } from '../shared/identity/cert-store.js';
import type { Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import type { TcpMetrics } from '../shared/telemetry/tcp-metrics.js';
import type { ConnectionManager } from './connection-manager.js';
import type { ZtunnelState } from './state.js';

export interface ZtunnelContext {
  readonly node: string;
  readonly trustDomain: string;
  readonly state: ZtunnelState;
  readonly certs: CertStore;
  readonly connections: ConnectionManager;
  readonly metrics: TcpMetrics;
  readonly log: Logger;
  /** The access log (one line per connection). */
  readonly accessLog: Logger;
  readonly connectTimeoutMs: number;
  /** This node's own addresses: a captured connection to one of them on a ztunnel port is a loop. */
  readonly localAddresses: ReadonlySet<string>;
}

type IdentityFields = Pick<Workload, 'trustDomain' | 'namespace' | 'serviceAccount'>;
/** One Identity per workload object (a model's workloads are immutable): not a copy per connection. */
const identities = new WeakMap<IdentityFields, Identity>();

export function identityOf(w: IdentityFields): Identity {
  let id = identities.get(w);
  if (id === undefined) {
    id = { trustDomain: w.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount };
    identities.set(w, id);
  }
  return id;
}
