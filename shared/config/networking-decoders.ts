// Decoders for networking.istio.io VirtualService and DestinationRule (v1; v1beta1 and v1alpha3
// have the same schema). Checks follow istio/istio pkg/config/validation/validation.go; what is
// checked there at admission is checked here, so file mode rejects what the API server would.
import { isIP } from 'node:net';
import { dns1123Label, type FieldReader } from './field-reader.js';
import type { KindDecoder } from './kind-decoder.js';
import type {
  Destination, Headers, HeaderOperations, HTTPFaultInjection, HTTPMatchRequest, HTTPMirror, HTTPRedirect, HTTPRetry,
  HTTPRewrite, HTTPRoute, HTTPRouteDestination, L4MatchAttributes, NetworkingResource, RouteDestination, StringMatch,
  TCPRoute, VirtualServiceResource,
} from './networking-resources.js';
import type { ObjectMeta } from './resources.js';
import { decodeDestinationRule } from './destination-rule-decoder.js';
import { istioHost, readIstioDuration, readPercent } from './istio-readers.js';

const istioApiVersions = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'] as const;

/** RFC 7230 token: what a header name may be (validation.go validHeaderNameRegex). */
export const headerToken = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
/** Envoy refuses regexes whose RE2 program is too large; Istio approximates with this length cap. */
export const maxRegexLength = 1024;
const gatewayName = /^(mesh|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)$/;
const controlChars = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const int32Max = 2_147_483_647;

// validation.go supportedRetryOnPolicies: Envoy x-envoy-retry-on and x-envoy-retry-grpc-on values.
const retryOnPolicies = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
const grpcStatuses = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
]);

function readStringMatch(r: FieldReader, key: string): StringMatch | undefined {
  const m = r.object(key);
  if (!m) return undefined;
  const set = (['exact', 'prefix', 'regex'] as const).filter((t) => m.has(t));
  if (set.length !== 1) return m.error('', `must set exactly one of exact, prefix or regex, got ${set.length === 0 ? 'none' : set.join(' and ')}`);
  const type = set[0]!;
  const value = m.string(type, { maxLength: type === 'regex' ? maxRegexLength : undefined });
  if (value === undefined) return undefined;
  if (value === '' && type !== 'exact') return m.error(type, `a ${type} match must not be empty`);
  return { type, value };
}

function readStringMatchMap(r: FieldReader, key: string, what: string): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = Object.create(null);
  const map = r.object(key);
  if (!map) return out;
  for (const name of Object.keys(map.value)) {
    if (!headerToken.test(name)) {
      map.error(name, `is not a valid ${what} name`);
      continue;
    }
    const m = readStringMatch(map, name);
    if (m) out[name] = m;
  }
  return out;
}

function readHeaderValues(r: FieldReader, key: string): Record<string, string> {
  const values = r.stringMap(key);
  for (const [name, value] of Object.entries(values)) {
    if (!headerToken.test(name)) r.error(`${key}.${name}`, 'is not a valid header name');
    else if (controlChars.test(value)) r.error(`${key}.${name}`, 'must not contain control characters');
    else continue;
    delete values[name];
  }
  return values;
}

function readHeaderOperations(r: FieldReader, key: string): HeaderOperations | undefined {
  const ops = r.object(key);
  if (!ops) return undefined;
  const remove = ops.strings('remove', { pattern: headerToken, what: 'a valid header name' });
  return { set: readHeaderValues(ops, 'set'), add: readHeaderValues(ops, 'add'), remove };
}

function readHeaders(r: FieldReader, key: string): Headers | undefined {
  const h = r.object(key);
  if (!h) return undefined;
  const request = readHeaderOperations(h, 'request');
  const response = readHeaderOperations(h, 'response');
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

export function readDestination(r: FieldReader, key: string): Destination | undefined {
  const d = r.object(key, { required: true });
  if (!d) return undefined;
  const host = d.string('host', { required: true, pattern: istioHost, what: 'a valid host name' });
  if (host === '*') return d.error('host', '"*" is not a valid destination host');
  const subset = d.string('subset', { pattern: dns1123Label, what: 'a valid subset name (DNS-1123 label)' });
  const port = d.object('port')?.integer('number', { required: true, min: 1, max: 65535 });
  if (host === undefined) return undefined;
  return { host, ...(subset !== undefined ? { subset } : {}), ...(port !== undefined ? { port } : {}) };
}

/**
 * Route destinations with their weights. Istio once required weights to sum to 100; current Istio
 * (validateHTTPRouteDestinations) treats them as relative and only rejects a split whose total is 0.
 */
function readRouteDestinations<D extends RouteDestination>(r: FieldReader, key: string, extra: (d: FieldReader) => Omit<D, keyof RouteDestination>): D[] {
  const entries = r.objects(key, { max: 1024 });
  const out: D[] = [];
  let total = 0;
  for (const e of entries) {
    const destination = readDestination(e, 'destination');
    const weight = e.integer('weight', { min: 0, max: int32Max }) ?? (entries.length === 1 ? 100 : 0);
    total += weight;
    if (destination) out.push({ destination, weight, ...extra(e) } as D);
  }
  if (entries.length > 1 && total === 0) r.error(key, 'total destination weight is 0: give at least one destination a weight');
  return out;
}

function readMatch(m: FieldReader): HTTPMatchRequest {
  const name = m.string('name', { maxLength: 253 });
  const uri = readStringMatch(m, 'uri');
  const method = readStringMatch(m, 'method');
  const authority = readStringMatch(m, 'authority');
  const port = m.integer('port', { min: 1, max: 65535 });
  const sourceLabels = m.has('sourceLabels') ? m.stringMap('sourceLabels', { labels: true }) : undefined;
  return {
    ...(name !== undefined ? { name } : {}),
    ...(uri ? { uri } : {}),
    ...(method ? { method } : {}),
    ...(authority ? { authority } : {}),
    headers: readStringMatchMap(m, 'headers', 'header'),
    queryParams: readStringMatchMap(m, 'queryParams', 'query parameter'),
    ...(port !== undefined ? { port } : {}),
    ...(sourceLabels ? { sourceLabels } : {}),
    ignoreUriCase: m.boolean('ignoreUriCase') ?? false,
  };
}

function readRedirect(r: FieldReader): HTTPRedirect | undefined {
  const d = r.object('redirect');
  if (!d) return undefined;
  const uri = d.string('uri');
  const authority = d.string('authority');
  const port = d.integer('port', { min: 1, max: 65535 });
  const scheme = d.string('scheme');
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return d.error('scheme', 'must be "http" or "https"');
  const redirectCode = d.integer('redirectCode', { min: 300, max: 399 }) ?? 301;
  if (uri === undefined && authority === undefined && port === undefined && scheme === undefined) {
    return d.error('', 'must set at least one of uri, authority, port or scheme');
  }
  return { ...(uri !== undefined ? { uri } : {}), ...(authority !== undefined ? { authority } : {}), ...(port !== undefined ? { port } : {}), ...(scheme ? { scheme } : {}), redirectCode };
}

function readRewrite(r: FieldReader): HTTPRewrite | undefined {
  const w = r.object('rewrite');
  if (!w) return undefined;
  const uri = w.string('uri');
  const authority = w.string('authority');
  if (w.has('uriRegexRewrite')) return w.error('uriRegexRewrite', 'is not supported by Ambit');
  if (uri === undefined && authority === undefined) return w.error('', 'must set uri or authority');
  return { ...(uri !== undefined ? { uri } : {}), ...(authority !== undefined ? { authority } : {}) };
}

function readRetries(r: FieldReader): HTTPRetry | undefined {
  const t = r.object('retries');
  if (!t) return undefined;
  const attempts = t.integer('attempts', { min: 0, max: int32Max }) ?? 0;
  const perTryTimeoutMs = readIstioDuration(t, 'perTryTimeout');
  const retryOn = (t.string('retryOn') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const policy of retryOn) {
    // A bare status code is accepted too (validation.go: http.StatusText(code) != "").
    if (!retryOnPolicies.has(policy) && !/^[1-5][0-9][0-9]$/.test(policy)) t.error('retryOn', `${JSON.stringify(policy)} is not a retry policy Envoy knows`);
  }
  if (attempts === 0 && (perTryTimeoutMs !== undefined || retryOn.length > 0)) {
    t.error('attempts', 'is 0 (retries disabled) but perTryTimeout or retryOn is set');
  }
  return { attempts, retryOn, ...(perTryTimeoutMs !== undefined ? { perTryTimeoutMs } : {}) };
}

function readFault(r: FieldReader): HTTPFaultInjection | undefined {
  const f = r.object('fault');
  if (!f) return undefined;
  const delayR = f.object('delay');
  const abortR = f.object('abort');
  if (!delayR && !abortR) return f.error('', 'must set delay, abort or both');
  let delay: HTTPFaultInjection['delay'];
  if (delayR) {
    if (delayR.has('exponentialDelay')) delayR.error('exponentialDelay', 'is not supported (Istio does not support it either)');
    const fixedDelayMs = readIstioDuration(delayR, 'fixedDelay');
    const percentage = readPercent(delayR, 'percentage');
    if (fixedDelayMs === undefined && !delayR.has('fixedDelay')) delayR.error('fixedDelay', 'is required');
    if (fixedDelayMs !== undefined) delay = { fixedDelayMs, ...(percentage !== undefined ? { percentage } : {}) };
  }
  let abort: HTTPFaultInjection['abort'];
  if (abortR) {
    const percentage = readPercent(abortR, 'percentage');
    const pct = percentage !== undefined ? { percentage } : {};
    if (abortR.has('httpStatus') === abortR.has('grpcStatus')) {
      abortR.error('', 'must set exactly one of httpStatus or grpcStatus');
    } else if (abortR.has('httpStatus')) {
      const httpStatus = abortR.integer('httpStatus', { min: 200, max: 599 });
      if (httpStatus !== undefined) abort = { httpStatus, ...pct };
    } else {
      const grpcStatus = abortR.string('grpcStatus');
      if (grpcStatus !== undefined && !grpcStatuses.has(grpcStatus)) abortR.error('grpcStatus', `${JSON.stringify(grpcStatus.slice(0, 40))} is not a gRPC status name such as UNAVAILABLE`);
      else if (grpcStatus !== undefined) abort = { grpcStatus, ...pct };
    }
  }
  if (!delay && !abort) return undefined;
  return { ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) };
}

function readMirror(r: FieldReader): HTTPMirror | undefined {
  if (r.has('mirrors')) r.error('mirrors', 'is not supported by Ambit yet; use mirror and mirrorPercentage');
  if (!r.has('mirror')) {
    if (r.has('mirrorPercentage')) r.error('mirrorPercentage', 'is set without mirror');
    return undefined;
  }
  const destination = readDestination(r, 'mirror');
  const percentage = readPercent(r, 'mirrorPercentage');
  return destination ? { destination, ...(percentage !== undefined ? { percentage } : {}) } : undefined;
}

function readHTTPRoute(h: FieldReader): HTTPRoute {
  const name = h.string('name', { maxLength: 253 });
  const match = h.objects('match', { max: 1024 }).map(readMatch);
  const route = readRouteDestinations<HTTPRouteDestination>(h, 'route', (d) => {
    const headers = readHeaders(d, 'headers');
    return headers ? { headers } : {};
  });
  const redirect = readRedirect(h);
  const rewrite = readRewrite(h);
  if (h.has('redirect') && h.has('route')) h.error('redirect', 'cannot be used together with route');
  if (h.has('redirect') && h.has('rewrite')) h.error('rewrite', 'cannot be used together with redirect');
  if (!h.has('route') && !h.has('redirect') && !h.has('directResponse')) h.error('route', 'is required unless redirect is set');
  if (h.has('directResponse')) h.error('directResponse', 'is not supported by Ambit');
  const mirror = readMirror(h);
  const retries = readRetries(h);
  const timeoutMs = readIstioDuration(h, 'timeout');
  const fault = readFault(h);
  const headers = readHeaders(h, 'headers');
  return {
    ...(name !== undefined ? { name } : {}),
    match,
    route,
    ...(redirect ? { redirect } : {}),
    ...(rewrite ? { rewrite } : {}),
    ...(mirror ? { mirror } : {}),
    ...(retries ? { retries } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(fault ? { fault } : {}),
    ...(headers ? { headers } : {}),
  };
}

function readTCPRoute(t: FieldReader): TCPRoute {
  const match = t.objects('match', { max: 1024 }).map((m): L4MatchAttributes => {
    const port = m.integer('port', { min: 1, max: 65535 });
    const destinationSubnets = m.strings('destinationSubnets').filter((s, i) => {
      const [ip, bits, ...rest] = s.split('/');
      const family = isIP(ip ?? '');
      const max = family === 6 ? 128 : 32;
      if (family !== 0 && rest.length === 0 && (bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max))) return true;
      m.error(`destinationSubnets[${i}]`, `${JSON.stringify(s.slice(0, 60))} is not an IP address or CIDR`);
      return false;
    });
    const sourceLabels = m.has('sourceLabels') ? m.stringMap('sourceLabels', { labels: true }) : undefined;
    return { destinationSubnets, ...(port !== undefined ? { port } : {}), ...(sourceLabels ? { sourceLabels } : {}) };
  });
  if (!t.has('route')) t.error('route', 'is required');
  return { match, route: readRouteDestinations<RouteDestination>(t, 'route', () => ({})) };
}

export function decodeVirtualService(doc: FieldReader, meta: ObjectMeta): VirtualServiceResource | undefined {
  const spec = doc.object('spec', { required: true });
  if (!spec) return undefined;
  const hosts = spec.strings('hosts', { pattern: istioHost, what: 'a valid host name' }).concat();
  const gateways = spec.strings('gateways', { pattern: gatewayName, what: 'a gateway name ("mesh", "<name>" or "<namespace>/<name>")' });
  const appliesToMesh = gateways.length === 0 || gateways.includes('mesh');
  if (appliesToMesh && hosts.includes('*')) spec.error('hosts', 'the wildcard host "*" is not allowed for virtual services bound to the mesh');
  for (const [i, h] of hosts.entries()) if (hosts.indexOf(h) !== i) spec.error(`hosts[${i}]`, `duplicate host ${JSON.stringify(h)}`);
  if (spec.has('tls')) spec.error('tls', 'TLS routes are not supported by Ambit yet');
  if (!spec.has('http') && !spec.has('tcp') && !spec.has('tls')) spec.error('', 'must set http, tcp or tls routes');
  const http = spec.objects('http', { max: 4096 }).map(readHTTPRoute);
  const tcp = spec.objects('tcp', { max: 4096 }).map(readTCPRoute);
  return { kind: 'VirtualService', meta, spec: { hosts, gateways, http, tcp } };
}

export const networkingDecoders: Readonly<Record<string, KindDecoder<NetworkingResource>>> = {
  VirtualService: { apiVersions: istioApiVersions, namespaced: true, decode: decodeVirtualService },
  DestinationRule: { apiVersions: istioApiVersions, namespaced: true, decode: decodeDestinationRule },
};
