// The consistent-hash key of a request, per DestinationRule consistentHash (Envoy route
// hash_policy): a header, a cookie, the source IP or a query parameter. No key means the
// picker falls back to a random host, as Envoy does when no hash policy yields a value.
import type { ConsistentHash } from '../../shared/config/networking-resources.js';
import type { RequestHead } from '../../shared/http/request-head.js';

/** The parts of a request a hash policy can read. Header names are lower-case. */
export interface HashRequestContext {
  headerValues(name: string): readonly string[];
  cookie(name: string): string | undefined;
  queryParam(name: string): string | undefined;
  readonly sourceIp?: string;
}

/**
 * The key to hash, or undefined when the request lacks it. A repeated header hashes all its
 * values, sorted, so the order they came in does not matter. A missing httpCookie with a ttl
 * would make Envoy generate the cookie; Ambit does not (yet), so that request goes to a random host.
 */
export function buildHashKey(hash: ConsistentHash, ctx: HashRequestContext): string | undefined {
  if ('httpHeaderName' in hash) {
    const values = ctx.headerValues(hash.httpHeaderName.toLowerCase());
    return values.length === 0 ? undefined : [...values].sort().join('\n');
  }
  if ('httpCookie' in hash) return ctx.cookie(hash.httpCookie.name);
  if ('useSourceIp' in hash) return ctx.sourceIp || undefined;
  return ctx.queryParam(hash.httpQueryParameterName);
}

/** A HashRequestContext over a parsed request head and the downstream peer address. */
export function hashContextFromHead(head: Pick<RequestHead, 'headers' | 'path'>, sourceIp?: string): HashRequestContext {
  let cookies: Map<string, string> | undefined;
  let query: URLSearchParams | undefined;
  return {
    headerValues: (name) => head.headers.filter(([n]) => n === name).map(([, v]) => v),
    cookie: (name) => {
      cookies ??= parseCookies(head.headers);
      return cookies.get(name);
    },
    queryParam: (name) => {
      if (!query) {
        const q = head.path.indexOf('?');
        query = new URLSearchParams(q < 0 ? '' : head.path.slice(q + 1));
      }
      return query.get(name) ?? undefined;
    },
    ...(sourceIp !== undefined ? { sourceIp } : {}),
  };
}

// RFC 6265 §5.4: `cookie: a=1; b=2`, possibly over several cookie headers (HTTP/2 splits them).
// The first occurrence of a name wins.
function parseCookies(headers: RequestHead['headers']): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of headers) {
    if (name !== 'cookie') continue;
    for (const pair of value.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const key = pair.slice(0, eq).trim();
      if (key !== '' && !out.has(key)) out.set(key, pair.slice(eq + 1).trim());
    }
  }
  return out;
}
