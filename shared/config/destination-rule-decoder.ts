// Decoder for networking.istio.io DestinationRule: host, subsets and the traffic policy parts
// Ambit's waypoint applies (load balancer, connection pool, outlier detection). Checks follow
// istio/istio pkg/config/validation/validation.go (validateTrafficPolicy and friends).
import { dns1123Label, type FieldReader } from './field-reader.js';
import { istioHost, readIstioDuration, readNumber } from './istio-readers.js';
import {
  simpleLoadBalancers, type ConnectionPoolSettings, type ConsistentHash, type DestinationRuleResource, type LoadBalancerSettings,
  type OutlierDetection, type SimpleLoadBalancer, type Subset, type TrafficPolicy,
} from './networking-resources.js';
import type { ObjectMeta } from './resources.js';

const int32Max = 2_147_483_647;
const hashKeys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const;

function readLoadBalancer(t: FieldReader): LoadBalancerSettings | undefined {
  const lb = t.object('loadBalancer');
  if (!lb) return undefined;
  if (lb.has('simple') === lb.has('consistentHash')) return lb.error('', 'must set exactly one of simple or consistentHash');
  if (lb.has('simple')) {
    const simple = lb.string('simple');
    if (simple === undefined) return undefined;
    // LEAST_CONN is the deprecated spelling of LEAST_REQUEST in istio/api.
    if (simple === 'LEAST_CONN') return { simple: 'LEAST_REQUEST' };
    if (!(simpleLoadBalancers as readonly string[]).includes(simple)) return lb.error('simple', `must be one of ${simpleLoadBalancers.join(', ')}`);
    return { simple: simple as SimpleLoadBalancer };
  }
  const ch = lb.object('consistentHash');
  if (!ch) return undefined;
  const set = hashKeys.filter((k) => ch.has(k));
  if (set.length !== 1) return ch.error('', `must set exactly one of ${hashKeys.join(', ')}`);
  let hash: ConsistentHash | undefined;
  switch (set[0]) {
    case 'httpHeaderName': {
      const name = ch.string('httpHeaderName', { pattern: /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/, what: 'a valid header name' });
      if (name !== undefined) hash = { httpHeaderName: name };
      break;
    }
    case 'httpQueryParameterName': {
      const name = ch.string('httpQueryParameterName');
      if (name) hash = { httpQueryParameterName: name };
      else if (name === '') ch.error('httpQueryParameterName', 'must not be empty');
      break;
    }
    case 'useSourceIp':
      if (ch.boolean('useSourceIp') === true) hash = { useSourceIp: true };
      else ch.error('useSourceIp', 'must be true when it is the hash key');
      break;
    case 'httpCookie': {
      const c = ch.object('httpCookie');
      if (!c) break;
      const name = c.string('name', { required: true });
      if (name === '') c.error('name', 'must not be empty');
      const path = c.string('path');
      // A ttl of 0s is meaningful (a session cookie), so zero is allowed here.
      const ttlMs = readIstioDuration(c, 'ttl', { allowZero: true });
      if (name) hash = { httpCookie: { name, ...(path !== undefined ? { path } : {}), ...(ttlMs !== undefined ? { ttlMs } : {}) } };
      break;
    }
  }
  return hash ? { consistentHash: hash } : undefined;
}

function readConnectionPool(t: FieldReader): ConnectionPoolSettings | undefined {
  const cp = t.object('connectionPool');
  if (!cp) return undefined;
  if (!cp.has('tcp') && !cp.has('http')) return cp.error('', 'must set tcp, http or both');
  const tcpR = cp.object('tcp');
  const httpR = cp.object('http');
  const n = (r: FieldReader, key: string) => r.integer(key, { min: 0, max: int32Max });
  const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return {
    ...(tcpR ? { tcp: defined({ maxConnections: n(tcpR, 'maxConnections'), connectTimeoutMs: readIstioDuration(tcpR, 'connectTimeout') }) } : {}),
    ...(httpR
      ? {
          http: defined({
            http1MaxPendingRequests: n(httpR, 'http1MaxPendingRequests'),
            http2MaxRequests: n(httpR, 'http2MaxRequests'),
            maxRequestsPerConnection: n(httpR, 'maxRequestsPerConnection'),
            maxRetries: n(httpR, 'maxRetries'),
          }),
        }
      : {}),
  };
}

function readOutlierDetection(t: FieldReader): OutlierDetection | undefined {
  const o = t.object('outlierDetection');
  if (!o) return undefined;
  if (o.has('consecutiveErrors')) o.error('consecutiveErrors', 'is deprecated and not supported; use consecutive5xxErrors or consecutiveGatewayErrors');
  const out: Record<string, number | undefined> = {
    consecutive5xxErrors: o.integer('consecutive5xxErrors', { min: 0, max: 4_294_967_295 }),
    consecutiveGatewayErrors: o.integer('consecutiveGatewayErrors', { min: 0, max: 4_294_967_295 }),
    intervalMs: readIstioDuration(o, 'interval'),
    baseEjectionTimeMs: readIstioDuration(o, 'baseEjectionTime'),
    maxEjectionPercent: readNumber(o, 'maxEjectionPercent', 0, 100),
    minHealthPercent: readNumber(o, 'minHealthPercent', 0, 100),
  };
  for (const k of ['maxEjectionPercent', 'minHealthPercent']) {
    if (out[k] !== undefined && !Number.isInteger(out[k])) {
      o.error(k, `must be a whole percentage, got ${out[k]}`);
      delete out[k];
    }
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as OutlierDetection;
}

function readTrafficPolicy(r: FieldReader, key: string): TrafficPolicy | undefined {
  const t = r.object(key);
  if (!t) return undefined;
  if (Object.keys(t.value).length === 0) return t.error('', 'must have at least one field');
  if (t.has('portLevelSettings')) t.error('portLevelSettings', 'is not supported by Ambit yet');
  const loadBalancer = readLoadBalancer(t);
  const connectionPool = readConnectionPool(t);
  const outlierDetection = readOutlierDetection(t);
  return {
    ...(loadBalancer ? { loadBalancer } : {}),
    ...(connectionPool ? { connectionPool } : {}),
    ...(outlierDetection ? { outlierDetection } : {}),
  };
}

export function decodeDestinationRule(doc: FieldReader, meta: ObjectMeta): DestinationRuleResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const host = spec.string('host', { required: true, pattern: istioHost, what: 'a valid host name' });
  const trafficPolicy = readTrafficPolicy(spec, 'trafficPolicy');
  const subsets: Subset[] = [];
  const names = new Set<string>();
  for (const s of spec.objects('subsets', { max: 1024 })) {
    const name = s.string('name', { required: true, pattern: dns1123Label, what: 'a valid subset name (DNS-1123 label)' });
    const labels = s.stringMap('labels', { labels: true });
    const policy = readTrafficPolicy(s, 'trafficPolicy');
    if (name === undefined) continue;
    if (names.has(name)) {
      s.error('name', `duplicate subset name ${JSON.stringify(name)}`);
      continue;
    }
    names.add(name);
    subsets.push({ name, labels, ...(policy ? { trafficPolicy: policy } : {}) });
  }
  if (host === undefined) return undefined;
  return { kind: 'DestinationRule', meta, spec: { host, subsets, ...(trafficPolicy ? { trafficPolicy } : {}) } };
}
