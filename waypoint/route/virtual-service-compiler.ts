// Compiles Istio VirtualServices bound to the mesh into route entries per destination Service.
// VirtualService semantics: `http` routes in order, the first match wins (istio/api
// networking/v1 VirtualService); one VirtualService per Service (exact host before wildcard).
import type { ConfigError } from '../../shared/config/config-error.js';
import { serviceKey } from '../../shared/config/model.js';
import type { Destination, HeaderOperations, HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceResource } from '../../shared/config/networking-resources.js';
import type { DestinationRuleResolver } from './destination-rule-resolver.js';
import { headerOps, noHeaderOps, type HeaderOps } from './header-ops.js';
import { rateLimitOf } from './http-route-compiler.js';
import { localRateLimitAnnotation } from './rate-limit-annotation.js';
import { compileFullMatchRegex } from './regex.js';
import { virtualServiceRetry } from './retry-policy.js';
import { matchEverything, type PathMatcher, type RequestMatcher, type ValueMatcher } from './route-match.js';
import type { Backend, FaultSpec, RouteEntry, RuleAction } from './service-routes.js';
import { compareText, type ServiceLookup } from './service-lookup.js';

export interface VirtualServiceTables {
  /** service key → entries of the VirtualService that applies, and its `namespace/name`. */
  readonly byService: Map<string, { readonly id: string; readonly entries: readonly RouteEntry[] }>;
}

type Warn = (vs: VirtualServiceResource, path: string, reason: string) => void;

export function compileVirtualServices(list: readonly VirtualServiceResource[], lookup: ServiceLookup, drs: DestinationRuleResolver, warnings: ConfigError[]): VirtualServiceTables {
  const warn: Warn = (vs, path, reason) => warnings.push({ source: 'waypoint/route', kind: 'VirtualService', namespace: vs.meta.namespace, name: vs.meta.name, path, reason });
  const candidates = new Map<string, { vs: VirtualServiceResource; slack: number; same: boolean }[]>();
  for (const vs of list) {
    if (vs.spec.gateways.length > 0 && !vs.spec.gateways.includes('mesh')) continue; // bound to ingress gateways only
    for (const host of vs.spec.hosts) {
      const { services, wildcardSlack } = lookup.resolveHost(host, vs.meta.namespace);
      for (const s of services) {
        const key = serviceKey(s);
        const arr = candidates.get(key) ?? [];
        if (!arr.some((c) => c.vs === vs)) arr.push({ vs, slack: wildcardSlack, same: s.namespace === vs.meta.namespace });
        candidates.set(key, arr);
      }
    }
  }
  const compiled = new Map<VirtualServiceResource, RouteEntry[]>();
  const byService = new Map<string, { id: string; entries: RouteEntry[] }>();
  for (const [key, arr] of candidates) {
    arr.sort((a, b) => a.slack - b.slack || Number(b.same) - Number(a.same) || compareText(idOf(a.vs), idOf(b.vs)));
    const [winner, ...rest] = arr;
    if (!winner) continue;
    for (const c of rest) warn(c.vs, 'spec.hosts', `ignored for ${key}: VirtualService ${idOf(winner.vs)} also names it and takes precedence`);
    let entries = compiled.get(winner.vs);
    if (!entries) {
      entries = compileEntries(winner.vs, lookup, drs, warn);
      compiled.set(winner.vs, entries);
    }
    byService.set(key, { id: idOf(winner.vs), entries });
  }
  return { byService };
}

function idOf(vs: VirtualServiceResource): string {
  return `${vs.meta.namespace}/${vs.meta.name}`;
}

function compileEntries(vs: VirtualServiceResource, lookup: ServiceLookup, drs: DestinationRuleResolver, warn: Warn): RouteEntry[] {
  const bucket = rateLimitOf(vs.meta.annotations, (reason) => warn(vs, `metadata.annotations.${localRateLimitAnnotation}`, reason));
  const out: RouteEntry[] = [];
  for (const [i, route] of vs.spec.http.entries()) {
    const at = `spec.http[${i}]`;
    const matchers: RequestMatcher[] = [];
    let failed: string | undefined;
    for (const [j, m] of route.match.entries()) {
      const c = compileMatch(m);
      if ('error' in c) {
        failed = `match[${j}]: ${c.error}`;
        break;
      }
      matchers.push(c);
    }
    if (failed) {
      warn(vs, at, `${failed}; route skipped`);
      continue;
    }
    const rule = {
      name: `VirtualService/${idOf(vs)}/${route.name ?? i}`,
      action: compileAction(vs, route, at, lookup, drs, warn),
      ...(bucket ? { rateLimit: { key: `VirtualService/${idOf(vs)}/http[${i}]`, ...bucket } } : {}),
    };
    for (const matcher of matchers.length > 0 ? matchers : [matchEverything]) out.push({ matcher, rule });
  }
  return out;
}

function ops(h: HeaderOperations | undefined): HeaderOps {
  return h ? headerOps(Object.entries(h.set), Object.entries(h.add), h.remove) : noHeaderOps;
}

function compileAction(vs: VirtualServiceResource, route: HTTPRoute, at: string, lookup: ServiceLookup, drs: DestinationRuleResolver, warn: Warn): RuleAction {
  if (route.redirect) {
    const r = route.redirect;
    return {
      kind: 'redirect', status: r.redirectCode,
      ...(r.scheme ? { scheme: r.scheme } : {}),
      ...(r.authority !== undefined ? { hostname: r.authority } : {}),
      ...(r.port !== undefined ? { port: r.port } : {}),
      // HTTPRedirect.uri replaces the whole path, whatever the match (istio/api).
      ...(r.uri !== undefined ? { path: { kind: 'full', path: r.uri } } : {}),
    };
  }
  if (route.route.length === 0) return { kind: 'direct', status: 500, reason: 'the route has no destinations' };
  const backends = route.route.map((d, k) => {
    const target = destinationBackend(d.destination, vs, lookup, drs);
    if ('invalid' in target) {
      warn(vs, `${at}.route[${k}].destination`, `${target.invalid}; its share of requests gets a 503`);
      // Envoy answers a route to a cluster it does not have with 503 (NC).
      return { weight: d.weight, invalid: { status: 503, reason: target.invalid } };
    }
    return { weight: d.weight, backend: target, requestHeaderOps: ops(d.headers?.request), responseHeaderOps: ops(d.headers?.response) };
  });
  const mirrors = [];
  if (route.mirror) {
    const target = destinationBackend(route.mirror.destination, vs, lookup, drs);
    if ('invalid' in target) warn(vs, `${at}.mirror`, `${target.invalid}; mirror dropped`);
    // istio/api: mirrorPercentage unset mirrors every request.
    else mirrors.push({ backend: target, percentage: route.mirror.percentage ?? 100 });
  }
  const retry = virtualServiceRetry(route.retries);
  const fault = faultOf(route);
  return {
    kind: 'forward', backends, mirrors,
    requestHeaderOps: ops(route.headers?.request),
    responseHeaderOps: ops(route.headers?.response),
    // HTTPRewrite.uri replaces the matched prefix when the match was a prefix, else the whole path.
    ...(route.rewrite ? {
      rewrite: {
        ...(route.rewrite.authority !== undefined ? { authority: route.rewrite.authority } : {}),
        ...(route.rewrite.uri !== undefined ? { path: { kind: 'prefix', replacement: route.rewrite.uri, segments: false } } : {}),
      },
    } : {}),
    ...(route.timeoutMs !== undefined && route.timeoutMs > 0 ? { timeoutMs: route.timeoutMs } : {}),
    ...(route.retries?.perTryTimeoutMs !== undefined && retry ? { perTryTimeoutMs: route.retries.perTryTimeoutMs } : {}),
    ...(retry ? { retry } : {}),
    ...(fault ? { fault } : {}),
  };
}

/** istio/api HTTPFaultInjection: an unset percentage applies the fault to every request. */
function faultOf(route: HTTPRoute): FaultSpec | undefined {
  const f = route.fault;
  if (!f) return undefined;
  const delay = f.delay ? { delayMs: f.delay.fixedDelayMs, percentage: f.delay.percentage ?? 100 } : undefined;
  const abort = f.abort ? { ...('httpStatus' in f.abort ? { httpStatus: f.abort.httpStatus } : { grpcStatus: f.abort.grpcStatus }), percentage: f.abort.percentage ?? 100 } : undefined;
  return { ...(delay ? { delay } : {}), ...(abort ? { abort } : {}) };
}

function destinationBackend(d: Destination, vs: VirtualServiceResource, lookup: ServiceLookup, drs: DestinationRuleResolver): Backend | { invalid: string } {
  const { services, wildcardSlack } = lookup.resolveHost(d.host, vs.meta.namespace);
  const svc = wildcardSlack === 0 ? services[0] : undefined;
  if (!svc) return { invalid: `destination host ${JSON.stringify(d.host)} is not a Service in the mesh model` };
  if (d.port !== undefined && !svc.ports.some((p) => p.servicePort === d.port)) return { invalid: `Service ${svc.namespace}/${svc.name} has no port ${d.port}` };
  // istio/api Destination.port: may be left out when the service has exactly one port.
  const port = d.port ?? (svc.ports.length === 1 ? svc.ports[0]?.servicePort : undefined);
  const key = serviceKey(svc);
  const resolved = drs.resolve(key, port, d.subset);
  if ('error' in resolved) return { invalid: resolved.error };
  return {
    service: key,
    ...(port !== undefined ? { port } : {}),
    ...(d.subset !== undefined ? { subset: d.subset } : {}),
    ...(resolved.labels ? { labels: resolved.labels } : {}),
    ...(resolved.trafficPolicy ? { trafficPolicy: resolved.trafficPolicy } : {}),
  };
}

function stringMatch(m: StringMatch): ValueMatcher | { error: string } {
  if (m.type === 'regex') {
    const r = compileFullMatchRegex(m.value);
    return 'error' in r ? r : { kind: 'regex', re: r.re };
  }
  return { kind: m.type, value: m.value };
}

function compileMatch(m: HTTPMatchRequest): RequestMatcher | { error: string } {
  let path: PathMatcher | undefined;
  if (m.uri) {
    if (m.uri.type === 'regex') {
      const r = compileFullMatchRegex(m.ignoreUriCase ? `(?i)${m.uri.value.replace(/^\(\?i\)/, '')}` : m.uri.value);
      if ('error' in r) return r;
      path = { kind: 'regex', re: r.re };
    } else if (m.uri.type === 'exact') path = { kind: 'exact', value: m.uri.value, ignoreCase: m.ignoreUriCase };
    else path = { kind: 'prefix', value: m.uri.value, ignoreCase: m.ignoreUriCase, segments: false };
  }
  const values = (rec: Readonly<Record<string, StringMatch>>, lowerNames: boolean) => {
    const out: { name: string; match: ValueMatcher }[] = [];
    for (const [name, sm] of Object.entries(rec)) {
      const v = stringMatch(sm);
      if ('error' in v) return v;
      out.push({ name: lowerNames ? name.toLowerCase() : name, match: v });
    }
    return out;
  };
  const headers = values(m.headers, true);
  if ('error' in headers) return headers;
  const queryParams = values(m.queryParams, false);
  if ('error' in queryParams) return queryParams;
  const method = m.method ? stringMatch(m.method) : undefined;
  if (method && 'error' in method) return method;
  const authority = m.authority ? stringMatch(m.authority) : undefined;
  if (authority && 'error' in authority) return authority;
  return {
    headers, queryParams,
    ...(path ? { path } : {}),
    ...(method ? { method } : {}),
    ...(authority ? { authority } : {}),
    ...(m.port !== undefined ? { ports: new Set([m.port]) } : {}),
    ...(m.sourceLabels ? { sourceLabels: m.sourceLabels } : {}),
  };
}
