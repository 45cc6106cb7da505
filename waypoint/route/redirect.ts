// Path rewriting and redirect Location building, per the Gateway API (HTTPPathModifier and
// HTTPRequestRedirectFilter in httproute_types.go) and Istio HTTPRedirect / HTTPRewrite.

/**
 * Gateway API ReplacePrefixMatch: `prefix` (the PathPrefix that matched, compared by whole path
 * elements, trailing "/" ignored) is replaced by `replacement`. The spec's table: /foo/bar with
 * /foo → /xyz gives /xyz/bar; /xyz/ gives /xyz/bar; "" or "/" give /bar; /foo with /foo → "/" gives /.
 * Never produces "//" at the join. `path` has no query.
 */
export function replacePrefixMatch(path: string, prefix: string, replacement: string): string {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const rest = p === '/' ? path.slice(1) : path.slice(p.length).replace(/^\//, '');
  const trailingSlash = p !== '/' && path.length > p.length && path.endsWith('/') && rest === '';
  const base = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
  if (rest === '') return trailingSlash ? `${base}/` : base === '' ? '/' : base;
  return `${base}/${rest}`;
}

/** Istio rewrite/redirect of a prefix match: a plain string replacement of the matched prefix (Envoy prefix_rewrite). */
export function replaceStringPrefix(path: string, prefix: string, replacement: string): string {
  const replaced = replacement + path.slice(prefix.length);
  return replaced === '' ? '/' : replaced;
}

export function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

export interface LocationParts {
  readonly scheme?: 'http' | 'https';
  /** May carry a port (Istio `authority`); a port here is used when `port` is unset. */
  readonly hostname?: string;
  readonly port?: number;
}

export interface RedirectRequest {
  readonly scheme: 'http' | 'https';
  /** The request's Host / :authority, possibly with a port. */
  readonly authority: string;
  /** The port the request came in on: the service port, the mesh's "listener port". */
  readonly listenerPort: number;
}

/** Splits `host[:port]` / `[v6]:port`; the host keeps IPv6 brackets. */
export function splitAuthority(authority: string): { host: string; port?: number } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(authority);
  if (!m) return { host: authority };
  return m[2] !== undefined ? { host: m[1] ?? '', port: Number(m[2]) } : { host: m[1] ?? '' };
}

const wellKnownPorts = { http: 80, https: 443 } as const;

/**
 * scheme://host[:port] for a Location header. Gateway API rules (HTTPRequestRedirectFilter.Port):
 * no scheme given → the request's; no hostname → the request's Host without its port; no port →
 * the well-known port of a configured scheme, else the listener (service) port; the port is left
 * out when it is the scheme's well-known one (http/80, https/443).
 */
export function locationOrigin(parts: LocationParts, req: RedirectRequest): string {
  const scheme = parts.scheme ?? req.scheme;
  const configured = parts.hostname !== undefined ? splitAuthority(parts.hostname) : undefined;
  const host = configured?.host ?? splitAuthority(req.authority).host;
  const port = parts.port ?? configured?.port ?? (parts.scheme !== undefined ? wellKnownPorts[parts.scheme] : req.listenerPort);
  return port === wellKnownPorts[scheme] ? `${scheme}://${host}` : `${scheme}://${host}:${port}`;
}
