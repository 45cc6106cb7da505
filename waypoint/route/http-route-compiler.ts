// Compiles Gateway API HTTPRoutes bound to Services (the GAMMA mesh model, GEP-1426) into route
// entries per destination Service, producer routes and per-namespace consumer routes, ordered by
// the Gateway API's match precedence (HTTPRouteRule.Matches in httproute_types.go).
import type { ConfigError } from '../../shared/config/config-error.js';
import type { BackendObjectReference, HTTPRouteMatch, HTTPRouteResource, HTTPRouteRule, HTTPValueMatch } from '../../shared/config/gateway-resources.js';
import { serviceKey } from '../../shared/config/model.js';
import type { DestinationRuleResolver } from './destination-rule-resolver.js';
import { headerOps, noHeaderOps, type HeaderOps } from './header-ops.js';
import { localRateLimitAnnotation, parseLocalRateLimit, type TokenBucketSpec } from './rate-limit-annotation.js';
import { compileFullMatchRegex } from './regex.js';
import type { PathMatcher, RequestMatcher, ValueMatcher } from './route-match.js';
import { httpRouteRetry } from './retry-policy.js';
import type { Backend, CompiledRule, MirrorSpec, PathChange, RouteEntry, RuleAction, WeightedBackend } from './service-routes.js';
import { compareText, type ServiceLookup } from './service-lookup.js';

export interface HTTPRouteTables {
  /** Producer routes (in the Service's namespace), by service key, in precedence order. */
  readonly producer: Map<string, RouteEntry[]>;
  /** Consumer routes: service key → client namespace → entries in precedence order. */
  readonly consumer: Map<string, Map<string, RouteEntry[]>>;
  /** Which routes attach to each service (for the HTTPRoute-over-VirtualService warning). */
  readonly routeNames: Map<string, string[]>;
}

interface Ranked extends RouteEntry {
  readonly rank: readonly (number | string)[];
}

type Warn = (route: HTTPRouteResource, path: string, reason: string) => void;

export function compileHTTPRoutes(routes: readonly HTTPRouteResource[], lookup: ServiceLookup, rules: DestinationRuleResolver, warnings: ConfigError[]): HTTPRouteTables {
  const warn: Warn = (r, path, reason) => warnings.push({ source: 'waypoint/route', kind: 'HTTPRoute', namespace: r.meta.namespace, name: r.meta.name, path, reason });
  const producer = new Map<string, Ranked[]>();
  const consumer = new Map<string, Map<string, Ranked[]>>();
  const routeNames = new Map<string, string[]>();
  for (const route of routes) {
    const id = `${route.meta.namespace}/${route.meta.name}`;
    const parents = attachedServices(route, lookup, warn);
    if (parents.size === 0) continue;
    const bucket = rateLimitOf(route.meta.annotations, (reason) => warn(route, `metadata.annotations.${localRateLimitAnnotation}`, reason));
    const compiled = route.spec.rules.flatMap((rule, i) => {
      const c = compileRule(route, rule, i, lookup, rules, warn);
      if (!c) return [];
      const key = `HTTPRoute/${id}/rules[${i}]`;
      return [{ ...c, rule: { ...c.rule, ...(bucket ? { rateLimit: { key, ...bucket } } : {}) } }];
    });
    for (const [svcKey, ports] of parents) {
      const svcNamespace = lookup.byKey(svcKey)?.namespace;
      const entries: Ranked[] = compiled.flatMap((c) =>
        c.matchers.map((m, j) => ({
          matcher: ports ? { ...m.matcher, ports } : m.matcher,
          rule: c.rule,
          rank: [...m.rank, id, c.index, j],
        })));
      const names = routeNames.get(svcKey) ?? [];
      names.push(id);
      routeNames.set(svcKey, names);
      if (svcNamespace === route.meta.namespace) push(producer, svcKey, entries);
      else {
        const byNs = consumer.get(svcKey) ?? new Map<string, Ranked[]>();
        push(byNs, route.meta.namespace, entries);
        consumer.set(svcKey, byNs);
      }
    }
  }
  return {
    producer: new Map([...producer].map(([k, v]) => [k, sortByPrecedence(v)])),
    consumer: new Map([...consumer].map(([k, byNs]) => [k, new Map([...byNs].map(([ns, v]) => [ns, sortByPrecedence(v)]))])),
    routeNames,
  };
}

/**
 * Service parentRefs → service key → ports the route is limited to (undefined: every port).
 * `spec.hostnames` is not matched for Service parents: the Service frontend (its VIP and port)
 * already selected the traffic, and mesh clients use short names the hostnames would not list.
 */
function attachedServices(route: HTTPRouteResource, lookup: ServiceLookup, warn: Warn): Map<string, Set<number> | undefined> {
  const out = new Map<string, Set<number> | undefined>();
  for (const [i, ref] of route.spec.parentRefs.entries()) {
    if (ref.kind !== 'Service' || ref.group !== '') continue; // Gateway parents are ingress routes, not the mesh's.
    const path = `spec.parentRefs[${i}]`;
    const svc = lookup.byRef(ref.name, ref.namespace ?? route.meta.namespace);
    if (!svc) {
      warn(route, path, `Service ${ref.namespace ?? route.meta.namespace}/${ref.name} is not in the mesh model`);
      continue;
    }
    if (ref.sectionName !== undefined) {
      warn(route, `${path}.sectionName`, 'sectionName on a Service parentRef is not supported by Ambit; use port');
      continue;
    }
    if (ref.port !== undefined && !svc.ports.some((p) => p.servicePort === ref.port)) {
      warn(route, `${path}.port`, `Service ${svc.namespace}/${svc.name} has no port ${ref.port}`);
      continue;
    }
    const key = serviceKey(svc);
    if (out.has(key) && out.get(key) === undefined) continue;
    if (ref.port === undefined) out.set(key, undefined);
    else out.set(key, new Set([...(out.get(key) ?? []), ref.port]));
  }
  return out;
}

export function rateLimitOf(annotations: Readonly<Record<string, string>>, warn: (reason: string) => void): TokenBucketSpec | undefined {
  const value = annotations[localRateLimitAnnotation];
  if (value === undefined) return undefined;
  const parsed = parseLocalRateLimit(value);
  if ('error' in parsed) {
    warn(`${parsed.error}; no rate limit applied`);
    return undefined;
  }
  return parsed.bucket;
}

interface CompiledMatchers {
  readonly index: number;
  readonly rule: CompiledRule;
  readonly matchers: readonly { readonly matcher: RequestMatcher; readonly rank: readonly number[] }[];
}

function compileRule(route: HTTPRouteResource, rule: HTTPRouteRule, i: number, lookup: ServiceLookup, drs: DestinationRuleResolver, warn: Warn): CompiledMatchers | undefined {
  const at = `spec.rules[${i}]`;
  const matchers: { matcher: RequestMatcher; rank: number[] }[] = [];
  for (const [j, m] of rule.matches.entries()) {
    const compiled = compileMatch(m);
    if ('error' in compiled) {
      warn(route, `${at}.matches[${j}]`, `${compiled.error}; rule skipped`);
      return undefined;
    }
    matchers.push({ matcher: compiled.matcher, rank: precedenceRank(m) });
  }
  const prefixModifier = rule.filters.some((f) =>
    (f.type === 'RequestRedirect' && f.requestRedirect.path?.type === 'ReplacePrefixMatch') || (f.type === 'URLRewrite' && f.urlRewrite.path?.type === 'ReplacePrefixMatch'));
  if (prefixModifier && rule.matches.some((m) => m.path.type !== 'PathPrefix')) {
    warn(route, `${at}.filters`, 'ReplacePrefixMatch needs PathPrefix matches only; rule skipped');
    return undefined;
  }
  const name = `HTTPRoute/${route.meta.namespace}/${route.meta.name}/${rule.name ?? i}`;
  return { index: i, rule: { name, action: compileAction(route, rule, at, lookup, drs, warn) }, matchers };
}

function compileAction(route: HTTPRouteResource, rule: HTTPRouteRule, at: string, lookup: ServiceLookup, drs: DestinationRuleResolver, warn: Warn): RuleAction {
  let requestHeaderOps: HeaderOps = noHeaderOps;
  let responseHeaderOps: HeaderOps = noHeaderOps;
  let rewrite: { authority?: string; path?: PathChange } | undefined;
  const mirrors: MirrorSpec[] = [];
  for (const [k, f] of rule.filters.entries()) {
    switch (f.type) {
      case 'RequestHeaderModifier': {
        const h = f.requestHeaderModifier;
        requestHeaderOps = headerOps(h.set.map((p) => [p.name, p.value]), h.add.map((p) => [p.name, p.value]), h.remove);
        break;
      }
      case 'ResponseHeaderModifier': {
        const h = f.responseHeaderModifier;
        responseHeaderOps = headerOps(h.set.map((p) => [p.name, p.value]), h.add.map((p) => [p.name, p.value]), h.remove);
        break;
      }
      case 'RequestRedirect': {
        const r = f.requestRedirect;
        return {
          kind: 'redirect', status: r.statusCode,
          ...(r.scheme ? { scheme: r.scheme } : {}),
          ...(r.hostname !== undefined ? { hostname: r.hostname } : {}),
          ...(r.port !== undefined ? { port: r.port } : {}),
          ...(r.path ? { path: pathChange(r.path) } : {}),
        };
      }
      case 'URLRewrite':
        rewrite = {
          ...(f.urlRewrite.hostname !== undefined ? { authority: f.urlRewrite.hostname } : {}),
          ...(f.urlRewrite.path ? { path: pathChange(f.urlRewrite.path) } : {}),
        };
        break;
      case 'RequestMirror': {
        const m = f.requestMirror;
        const target = serviceBackend(m.backendRef, route, lookup, drs);
        if ('invalid' in target) warn(route, `${at}.filters[${k}].requestMirror.backendRef`, `${target.invalid}; mirror dropped`);
        else mirrors.push({ backend: target, percentage: m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / m.fraction.denominator : 100) });
        break;
      }
    }
  }
  // httproute_types.go BackendRefs: with no usable backend, matching requests MUST receive a 500;
  // an invalid backend answers 500 for its share of the weight.
  if (rule.backendRefs.length === 0) return { kind: 'direct', status: 500, reason: 'the rule has no backendRefs' };
  const backends: WeightedBackend[] = rule.backendRefs.map((ref, k) => {
    const target = serviceBackend(ref, route, lookup, drs);
    if (!('invalid' in target)) return { weight: ref.weight, backend: target };
    warn(route, `${at}.backendRefs[${k}]`, `${target.invalid}; its share of requests gets a 500`);
    return { weight: ref.weight, invalid: { status: 500, reason: target.invalid } };
  });
  const req = rule.timeouts?.requestMs;
  const backendReq = rule.timeouts?.backendRequestMs;
  const retry = httpRouteRetry(rule.retry);
  return {
    kind: 'forward', backends, requestHeaderOps, responseHeaderOps, mirrors,
    ...(rewrite ? { rewrite } : {}),
    ...(req !== undefined && req > 0 ? { timeoutMs: req } : {}),
    ...(backendReq !== undefined && backendReq > 0 ? { perTryTimeoutMs: backendReq } : {}),
    ...(retry ? { retry } : {}),
  };
}

function pathChange(p: { type: 'ReplaceFullPath'; replaceFullPath: string } | { type: 'ReplacePrefixMatch'; replacePrefixMatch: string }): PathChange {
  return p.type === 'ReplaceFullPath' ? { kind: 'full', path: p.replaceFullPath } : { kind: 'prefix', replacement: p.replacePrefixMatch, segments: true };
}

function serviceBackend(ref: BackendObjectReference, route: HTTPRouteResource, lookup: ServiceLookup, drs: DestinationRuleResolver): Backend | { invalid: string } {
  const ns = ref.namespace ?? route.meta.namespace;
  if (ref.group !== '' || ref.kind !== 'Service') return { invalid: `backend kind ${ref.group || 'core'}/${ref.kind} is not supported (only Service)` };
  const svc = lookup.byRef(ref.name, ns);
  if (!svc) return { invalid: `Service ${ns}/${ref.name} is not in the mesh model` };
  if (ref.port === undefined || !svc.ports.some((p) => p.servicePort === ref.port)) return { invalid: `Service ${ns}/${ref.name} has no port ${ref.port ?? '(unset)'}` };
  const key = serviceKey(svc);
  const resolved = drs.resolve(key, ref.port);
  return { service: key, port: ref.port, ...('trafficPolicy' in resolved && resolved.trafficPolicy ? { trafficPolicy: resolved.trafficPolicy } : {}) };
}

function compileValue(m: HTTPValueMatch): ValueMatcher | { error: string } {
  if (m.type === 'Exact') return { kind: 'exact', value: m.value };
  const r = compileFullMatchRegex(m.value);
  return 'error' in r ? r : { kind: 'regex', re: r.re };
}

export function compileMatch(m: HTTPRouteMatch): { matcher: RequestMatcher } | { error: string } {
  let path: PathMatcher;
  if (m.path.type === 'RegularExpression') {
    const r = compileFullMatchRegex(m.path.value);
    if ('error' in r) return r;
    path = { kind: 'regex', re: r.re };
  } else if (m.path.type === 'Exact') path = { kind: 'exact', value: m.path.value, ignoreCase: false };
  else path = { kind: 'prefix', value: m.path.value, ignoreCase: false, segments: true };
  // Only the first entry of a repeated header or query name counts (HTTPHeaderMatch.Name).
  const headers: { name: string; match: ValueMatcher }[] = [];
  for (const h of m.headers) {
    const name = h.name.toLowerCase();
    if (headers.some((x) => x.name === name)) continue;
    const v = compileValue(h);
    if ('error' in v) return v;
    headers.push({ name, match: v });
  }
  const queryParams: { name: string; match: ValueMatcher }[] = [];
  for (const q of m.queryParams) {
    if (queryParams.some((x) => x.name === q.name)) continue;
    const v = compileValue(q);
    if ('error' in v) return v;
    queryParams.push({ name: q.name, match: v });
  }
  return { matcher: { path, headers, queryParams, ...(m.method ? { method: { kind: 'exact', value: m.method } } : {}) } };
}

/**
 * Higher sorts first: Exact path, then RegularExpression (implementation-specific; Istio ranks it
 * between Exact and PathPrefix), then PathPrefix; then path length, method, header count, query count.
 */
export function precedenceRank(m: HTTPRouteMatch): number[] {
  const kind = m.path.type === 'Exact' ? 3 : m.path.type === 'RegularExpression' ? 2 : 1;
  return [kind, m.path.value.length, m.method ? 1 : 0, m.headers.length, m.queryParams.length];
}

/**
 * Ties after the match criteria: the route's namespace/name alphabetically (the spec's first
 * tie-break, the oldest creationTimestamp, is not in Ambit's ObjectMeta), then rule order, then match order.
 */
function sortByPrecedence(entries: Ranked[]): RouteEntry[] {
  const sorted = [...entries].sort((a, b) => {
    for (let k = 0; k < 5; k++) {
      const d = (b.rank[k] as number) - (a.rank[k] as number);
      if (d !== 0) return d;
    }
    return compareText(a.rank[5] as string, b.rank[5] as string) || (a.rank[6] as number) - (b.rank[6] as number) || (a.rank[7] as number) - (b.rank[7] as number);
  });
  return sorted.map(({ matcher, rule }) => ({ matcher, rule }));
}

function push<K, V>(map: Map<K, V[]>, key: K, values: V[]): void {
  const list = map.get(key);
  if (list) list.push(...values);
  else map.set(key, [...values]);
}
