// Istio's string forms for authorization values, shared by the L4 and L7 evaluators:
// `*` any non-empty value, `x*` prefix, `*x` suffix, else exact
// (istio:pilot/pkg/security/authz/matcher/string.go), and path templates `{*}` / `{**}`
// (Envoy's uri_template: `{*}` one path segment, `{**}` the rest, only as the last operator).

/** Istio's string match: `*` any non-empty value, `x*` prefix, `*x` suffix, else exact. */
export function stringMatches(pattern: string, value: string | undefined): boolean {
  if (value === undefined || value === '') return false;
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return value === pattern;
}

/**
 * `hosts`: the authority as received, compared case-insensitively (RFC 4343; Istio fixed this in
 * CVE-2021-39155). The port is part of it: `example.com` does not match `example.com:8080`;
 * write `example.com:*` as well, as Istio's docs say.
 */
export function hostMatches(pattern: string, authority: string | undefined): boolean {
  return stringMatches(pattern.toLowerCase(), authority?.toLowerCase());
}

const templateCache = new Map<string, RegExp | null>();

/** A `paths` entry against the normalized path: a template when it has `{*}` or `{**}`, else the string forms. */
export function pathMatches(pattern: string, path: string | undefined): boolean {
  if (path === undefined) return false;
  if (!pattern.includes('{*}') && !pattern.includes('{**}')) return stringMatches(pattern, path);
  let re = templateCache.get(pattern);
  if (re === undefined) {
    re = compileTemplate(pattern);
    if (templateCache.size > 1000) templateCache.clear();
    templateCache.set(pattern, re);
  }
  // A template Envoy would reject (`{**}` not last, other braces) matches nothing.
  return re !== null && re.test(path);
}

function compileTemplate(pattern: string): RegExp | null {
  const parts = pattern.split(/(\{\*\*\}|\{\*\})/);
  let source = '';
  for (const [i, part] of parts.entries()) {
    if (part === '{*}') source += '[^/]+';
    else if (part === '{**}') {
      if (i !== parts.length - 2 || parts[i + 1] !== '') return null;
      source += '.*';
    } else {
      if (/[{}]/.test(part)) return null;
      source += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
