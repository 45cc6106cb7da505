// Request matching shared by both route sources: a compiled matcher (plain data plus RegExp) and
// the input it reads, built once per request from the RequestHead. Gateway API HTTPRouteMatch and
// Istio HTTPMatchRequest both compile to RequestMatcher; every condition present must hold (AND).
import type { RequestHead } from '../../shared/http/request-head.js';

export type ValueMatcher =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly re: RegExp };

export type PathMatcher =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase: boolean }
  /** `segments`: Gateway API PathPrefix (whole path elements); otherwise Istio's plain string prefix. */
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase: boolean; readonly segments: boolean }
  | { readonly kind: 'regex'; readonly re: RegExp };

export interface RequestMatcher {
  readonly path?: PathMatcher;
  readonly method?: ValueMatcher;
  readonly authority?: ValueMatcher;
  /** Names lower-case. */
  readonly headers: readonly { readonly name: string; readonly match: ValueMatcher }[];
  readonly queryParams: readonly { readonly name: string; readonly match: ValueMatcher }[];
  /** Service ports this match is limited to (parentRef `port`, VS match `port`); absent: any. */
  readonly ports?: ReadonlySet<number>;
  /** Istio `sourceLabels`: every label must be on the client workload. */
  readonly sourceLabels?: Readonly<Record<string, string>>;
}

export const matchEverything: RequestMatcher = Object.freeze({ headers: [], queryParams: [] });

export interface MatchInput {
  readonly method: string;
  /** The path without its query. */
  readonly path: string;
  readonly query: string;
  readonly authority: string;
  readonly head: RequestHead;
  readonly port: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
}

export function matchInput(head: RequestHead, port: number, sourceLabels?: Readonly<Record<string, string>>): MatchInput {
  const q = head.path.indexOf('?');
  return {
    method: head.method,
    path: q === -1 ? head.path : head.path.slice(0, q),
    query: q === -1 ? '' : head.path.slice(q + 1),
    authority: head.authority,
    head,
    port,
    ...(sourceLabels ? { sourceLabels } : {}),
  };
}

export function matchValue(m: ValueMatcher, value: string): boolean {
  switch (m.kind) {
    case 'exact': return value === m.value;
    case 'prefix': return value.startsWith(m.value);
    case 'regex': return m.re.test(value);
  }
}

/**
 * Gateway API PathPrefix: "/abc" matches "/abc", "/abc/" and "/abc/def", not "/abcd"; a trailing
 * "/" in the prefix is ignored (HTTPPathMatch, httproute_types.go). Istio's prefix is a plain string prefix.
 */
export function matchPath(m: PathMatcher, path: string): boolean {
  if (m.kind === 'regex') return m.re.test(path);
  const p = m.ignoreCase ? path.toLowerCase() : path;
  const v = m.ignoreCase ? m.value.toLowerCase() : m.value;
  if (m.kind === 'exact') return p === v;
  if (!m.segments) return p.startsWith(v);
  const prefix = v.length > 1 && v.endsWith('/') ? v.slice(0, -1) : v;
  if (prefix === '/') return p.startsWith('/');
  return p === prefix || p.startsWith(`${prefix}/`);
}

/** Repeated headers are matched as one value joined with "," (Envoy HeaderUtility::getAllOfHeader). */
function headerForMatch(head: RequestHead, name: string): string | undefined {
  let joined: string | undefined;
  for (const [n, v] of head.headers) if (n === name) joined = joined === undefined ? v : `${joined},${v}`;
  return joined;
}

/** The first value of a query parameter, percent-decoded; repeated parameters are undefined behaviour in the Gateway API. */
export function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    if (decode(rawName) !== name) continue;
    return eq === -1 ? '' : decode(part.slice(eq + 1));
  }
  return undefined;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

export function matchRequest(m: RequestMatcher, input: MatchInput): boolean {
  if (m.ports && !m.ports.has(input.port)) return false;
  if (m.path && !matchPath(m.path, input.path)) return false;
  if (m.method && !matchValue(m.method, input.method)) return false;
  if (m.authority && !matchValue(m.authority, input.authority)) return false;
  for (const h of m.headers) {
    const v = headerForMatch(input.head, h.name);
    if (v === undefined || !matchValue(h.match, v)) return false;
  }
  for (const q of m.queryParams) {
    const v = queryParam(input.query, q.name);
    if (v === undefined || !matchValue(q.match, v)) return false;
  }
  if (m.sourceLabels) {
    const labels = input.sourceLabels;
    if (!labels) return false;
    for (const [k, v] of Object.entries(m.sourceLabels)) if (labels[k] !== v) return false;
  }
  return true;
}
