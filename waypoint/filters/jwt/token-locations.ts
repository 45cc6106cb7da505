// Where a jwtRule looks for tokens, and extracting them from a RequestHead. Envoy's extractor.cc:
// fromHeaders (optional value prefix), fromParams (query), fromCookies; with none of the three
// configured, the defaults `Authorization: Bearer <token>` and `?access_token=` (RFC 6750 §2.1, §2.3).
import type { JwtRule } from '../../../shared/config/security-resources.js';
import { headerValues, type RequestHead } from '../../../shared/http/request-head.js';

export type TokenLocation =
  | { readonly kind: 'header'; readonly name: string; readonly prefix: string }
  | { readonly kind: 'param'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

export interface FoundToken {
  readonly token: string;
  readonly location: TokenLocation;
}

export const defaultTokenLocations: readonly TokenLocation[] = [
  { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  { kind: 'param', name: 'access_token' },
];

export function tokenLocations(rule: JwtRule): readonly TokenLocation[] {
  if (rule.fromHeaders.length === 0 && rule.fromParams.length === 0 && rule.fromCookies.length === 0) return defaultTokenLocations;
  return [
    ...rule.fromHeaders.map((h): TokenLocation => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' })),
    ...rule.fromParams.map((name): TokenLocation => ({ kind: 'param', name })),
    ...rule.fromCookies.map((name): TokenLocation => ({ kind: 'cookie', name })),
  ];
}

/** Identity of a location: two rules naming the same header and prefix share one location. */
export function locationKey(loc: TokenLocation): string {
  return loc.kind === 'header' ? `header:${loc.name}:${loc.prefix}` : `${loc.kind}:${loc.name}`;
}

/**
 * Every token present at `locations` (each distinct location once). A header repeated yields one
 * token per value. A header whose value lacks the configured prefix carries no token (Envoy skips
 * it): `Authorization: Basic …` is not a JWT. The prefix's scheme word compares case-insensitively
 * (RFC 9110 §11.1: auth schemes are case-insensitive). A query parameter or cookie yields its first value.
 */
export function extractTokens(head: RequestHead, locations: readonly TokenLocation[]): FoundToken[] {
  const seen = new Set<string>();
  const found: FoundToken[] = [];
  let query: Map<string, string> | undefined;
  let cookies: Map<string, string> | undefined;
  for (const location of locations) {
    const key = locationKey(location);
    if (seen.has(key)) continue;
    seen.add(key);
    if (location.kind === 'header') {
      for (const raw of headerValues(head, location.name)) {
        const value = raw.trim();
        if (location.prefix === '') found.push({ token: value, location });
        else if (value.toLowerCase().startsWith(location.prefix.toLowerCase())) found.push({ token: value.slice(location.prefix.length).trim(), location });
      }
    } else if (location.kind === 'param') {
      query ??= parseQuery(head.path);
      const token = query.get(location.name);
      if (token !== undefined) found.push({ token, location });
    } else {
      cookies ??= parseCookies(head);
      const token = cookies.get(location.name);
      if (token !== undefined) found.push({ token, location });
    }
  }
  return found;
}

/** `path` without any `name=` parameter, other parameters kept byte for byte and in order. */
export function withoutQueryParam(path: string, name: string): string {
  const q = path.indexOf('?');
  if (q < 0) return path;
  const kept = path.slice(q + 1).split('&').filter((pair) => pair !== '' && decodeComponent(pair.split('=', 1)[0] ?? '') !== name);
  return kept.length === 0 ? path.slice(0, q) : `${path.slice(0, q)}?${kept.join('&')}`;
}

function parseQuery(path: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = path.indexOf('?');
  if (q < 0) return out;
  for (const pair of path.slice(q + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq < 0 ? pair : pair.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : decodeComponent(pair.slice(eq + 1)));
  }
  return out;
}

/** RFC 6265 §5.4 `cookie` header(s): `name=value` pairs split on ';', first occurrence wins. */
function parseCookies(head: RequestHead): Map<string, string> {
  const out = new Map<string, string>();
  for (const header of headerValues(head, 'cookie')) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (!out.has(name)) out.set(name, value);
    }
  }
  return out;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
