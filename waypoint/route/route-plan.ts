// buildRoutePlan: what the waypoint does with one request, as a plain value: forward to a chosen
// backend (with header ops, rewrite, timeouts, retries, fault, mirrors, rate limit), redirect, or
// answer directly. Every random decision (weights, fault and mirror percentages) is taken here
// from the injected `random`, so the executor only carries the plan out.
import type { RequestHead } from '../../shared/http/request-head.js';
import { concatHeaderOps, noHeaderOps, type HeaderOps } from './header-ops.js';
import { locationOrigin, replacePrefixMatch, replaceStringPrefix, withQuery } from './redirect.js';
import { matchInput, matchRequest, type MatchInput, type RequestMatcher } from './route-match.js';
import type { Backend, FaultSpec, PathChange, RateLimitSpec, RetrySpec, RouteEntry, ServiceRoutes, WeightedBackend } from './service-routes.js';

export interface PlanBackend extends Backend {
  /** Always set in a plan: the backend's service port. */
  readonly port: number;
}

export interface ForwardPlan {
  readonly kind: 'forward';
  /** Stable name of the rule that matched, for logs and metrics. */
  readonly route: string;
  readonly backend: PlanBackend;
  readonly requestHeaderOps: HeaderOps;
  readonly responseHeaderOps: HeaderOps;
  /** New :authority and/or request target (path and query). */
  readonly rewrite?: { readonly authority?: string; readonly path?: string };
  readonly timeoutMs?: number;
  readonly perTryTimeoutMs?: number;
  readonly retry?: RetrySpec;
  /** Decided already: apply the delay, then answer with the abort, before the upstream call. */
  readonly fault?: { readonly delayMs?: number; readonly abort?: { readonly httpStatus: number } | { readonly grpcStatus: string } };
  /** Decided already: send a copy to each (fire and forget). */
  readonly mirrors: readonly PlanBackend[];
  readonly rateLimit?: RateLimitSpec;
}

export type RoutePlan =
  | ForwardPlan
  | { readonly kind: 'redirect'; readonly route: string; readonly status: number; readonly location: string; readonly rateLimit?: RateLimitSpec }
  /** `reason` is for logs; Envoy's response flag is NR for no route, and none for a direct 500. */
  | { readonly kind: 'direct'; readonly route?: string; readonly status: number; readonly reason: string; readonly rateLimit?: RateLimitSpec };

export interface RoutePlanInput {
  /** The service port the request was addressed to. */
  readonly port: number;
  readonly head: RequestHead;
  /** The client's namespace, for GEP-1426 consumer routes. */
  readonly sourceNamespace?: string;
  /** The client workload's labels, for Istio `sourceLabels` matches (absent: those matches fail). */
  readonly sourceLabels?: Readonly<Record<string, string>>;
  /** Inside HBONE the waypoint sees plain HTTP; a redirect keeps this scheme unless told otherwise. */
  readonly scheme?: 'http' | 'https';
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

export function buildRoutePlan(routes: ServiceRoutes | undefined, input: RoutePlanInput): RoutePlan {
  if (!routes) return { kind: 'direct', status: 404, reason: 'no route: the destination is not a known service' };
  const consumer = input.sourceNamespace !== undefined ? routes.consumerEntries.get(input.sourceNamespace) : undefined;
  const entries = consumer ?? routes.entries;
  const req = matchInput(input.head, input.port, input.sourceLabels);
  const entry = entries.find((e) => matchRequest(e.matcher, req));
  // Gateway API: no matching rule MUST give 404; Envoy answers 404 with response flag NR.
  if (!entry) return { kind: 'direct', status: 404, reason: `no route matched in ${routes.source} routes for ${routes.service}` };
  return planFor(entry, req, input);
}

function planFor(entry: RouteEntry, req: MatchInput, input: RoutePlanInput): RoutePlan {
  const { rule, matcher } = entry;
  const limit = rule.rateLimit ? { rateLimit: rule.rateLimit } : {};
  const action = rule.action;
  switch (action.kind) {
    case 'direct':
      return { kind: 'direct', route: rule.name, status: action.status, reason: action.reason, ...limit };
    case 'redirect': {
      const origin = locationOrigin(action, { scheme: input.scheme ?? 'http', authority: req.authority, listenerPort: input.port });
      const target = action.path ? changedTarget(action.path, matcher, req) : withQuery(req.path, req.query);
      return { kind: 'redirect', route: rule.name, status: action.status, location: origin + target, ...limit };
    }
    case 'forward':
      break;
  }
  const chosen = pickWeighted(action.backends, input.random);
  if (!chosen) return { kind: 'direct', route: rule.name, status: 500, reason: 'every backend has weight 0', ...limit };
  if ('invalid' in chosen) return { kind: 'direct', route: rule.name, status: chosen.invalid.status, reason: chosen.invalid.reason, ...limit };
  const fault = action.fault ? decideFault(action.fault, input.random) : undefined;
  const mirrors = action.mirrors.filter((m) => rolled(m.percentage, input.random)).map((m) => withPort(m.backend, input.port));
  const rewrite = action.rewrite && {
    ...(action.rewrite.authority !== undefined ? { authority: action.rewrite.authority } : {}),
    ...(action.rewrite.path ? { path: changedTarget(action.rewrite.path, matcher, req) } : {}),
  };
  return {
    kind: 'forward',
    route: rule.name,
    backend: withPort(chosen.backend, input.port),
    requestHeaderOps: concatHeaderOps(action.requestHeaderOps, chosen.requestHeaderOps ?? noHeaderOps),
    responseHeaderOps: concatHeaderOps(action.responseHeaderOps, chosen.responseHeaderOps ?? noHeaderOps),
    mirrors,
    ...(rewrite ? { rewrite } : {}),
    ...(action.timeoutMs !== undefined ? { timeoutMs: action.timeoutMs } : {}),
    ...(action.perTryTimeoutMs !== undefined ? { perTryTimeoutMs: action.perTryTimeoutMs } : {}),
    ...(action.retry ? { retry: action.retry } : {}),
    ...(fault ? { fault } : {}),
    ...limit,
  };
}

/** Plan backends per compiled backend and request port: the same object every time, not a copy per request. */
const planBackends = new WeakMap<Backend, Map<number, PlanBackend>>();

function withPort(b: Backend, requestPort: number): PlanBackend {
  if (b.port !== undefined) return b as PlanBackend;
  let byPort = planBackends.get(b);
  if (!byPort) planBackends.set(b, (byPort = new Map()));
  let pb = byPort.get(requestPort);
  if (!pb) byPort.set(requestPort, (pb = { ...b, port: requestPort }));
  return pb;
}

/**
 * A backend drawn with probability weight / total, from one `random()` draw. Zero-weight backends
 * are never drawn; undefined when every weight is 0 (the Gateway API's 500).
 */
export function pickWeighted(backends: readonly WeightedBackend[], random: () => number): WeightedBackend | undefined {
  const total = backends.reduce((n, b) => n + b.weight, 0);
  if (total <= 0) return undefined;
  let point = random() * total;
  for (const b of backends) {
    if (b.weight <= 0) continue;
    if (point < b.weight) return b;
    point -= b.weight;
  }
  for (let i = backends.length - 1; i >= 0; i--) if ((backends[i]?.weight ?? 0) > 0) return backends[i];
  return undefined;
}

/** True with probability percentage/100, from one `random()` draw (none at 0 or 100). */
function rolled(percentage: number, random: () => number): boolean {
  if (percentage >= 100) return true;
  if (percentage <= 0) return false;
  return random() * 100 < percentage;
}

function decideFault(f: FaultSpec, random: () => number): ForwardPlan['fault'] {
  const delayMs = f.delay && rolled(f.delay.percentage, random) ? f.delay.delayMs : undefined;
  let abort: { httpStatus: number } | { grpcStatus: string } | undefined;
  if (f.abort && rolled(f.abort.percentage, random)) abort = 'httpStatus' in f.abort ? { httpStatus: f.abort.httpStatus } : { grpcStatus: f.abort.grpcStatus };
  if (delayMs === undefined && !abort) return undefined;
  return { ...(delayMs !== undefined ? { delayMs } : {}), ...(abort ? { abort } : {}) };
}

/**
 * The new request target. A prefix change replaces the prefix that matched (whole path elements
 * for the Gateway API, a plain string for Istio); when the match was not a prefix the whole path is
 * replaced. The query is kept unless the new path carries its own.
 */
function changedTarget(change: PathChange, matcher: RequestMatcher, req: MatchInput): string {
  let path: string;
  if (change.kind === 'full') path = change.path;
  else if (matcher.path?.kind === 'prefix') {
    path = change.segments ? replacePrefixMatch(req.path, matcher.path.value, change.replacement) : replaceStringPrefix(req.path, req.path.slice(0, matcher.path.value.length), change.replacement);
  } else path = change.replacement;
  return path.includes('?') ? path : withQuery(path, req.query);
}
