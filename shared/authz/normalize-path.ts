// normalizePath(): the request path Istio's authorization (and routing) sees, per
// https://istio.io/latest/docs/reference/config/security/normalization/ — BASE (RFC 3986 §6.2.2:
// unreserved %HH decoded once, hex upper-cased, `\` → `/`, dot segments removed per §5.2.4),
// then MERGE_SLASHES (on by default in Ambit, issue 5; Istio's default is BASE). `%2F`/`%5C` stay
// encoded unless `decodeSlashes` (Istio's DECODE_AND_MERGE_SLASHES). Query and fragment are split
// off: policies match the path alone. Refusals (400 at the waypoint) are returned, never thrown.

export interface PathNormalization {
  /** MERGE_SLASHES: `//` → `/`. Default true. */
  readonly mergeSlashes?: boolean;
  /** DECODE_AND_MERGE_SLASHES: `%2F` → `/` and `%5C` → `\` (then `/`) before the rest. Default false. */
  readonly decodeSlashes?: boolean;
}

export type NormalizedPath =
  | { readonly path: string; /** `?…` as received (no fragment), or ''. */ readonly query: string }
  | { readonly error: string };

const hex = /^[0-9A-Fa-f]{2}$/;
/** RFC 3986 §2.3 unreserved: the only characters BASE decodes (Istio's table: - . 0-9 A-Z _ a-z ~). */
const unreserved = /^[A-Za-z0-9\-._~]$/;

export function normalizePath(target: string, opts: PathNormalization = {}): NormalizedPath {
  const mergeSlashes = opts.mergeSlashes ?? true;
  const decodeSlashes = opts.decodeSlashes ?? false;
  if (target === '*') return { path: '*', query: '' }; // OPTIONS * (RFC 9112 §3.2.4)
  const hash = target.indexOf('#');
  const noFragment = hash >= 0 ? target.slice(0, hash) : target;
  const q = noFragment.indexOf('?');
  const raw = q >= 0 ? noFragment.slice(0, q) : noFragment;
  const query = q >= 0 ? noFragment.slice(q) : '';
  if (!raw.startsWith('/')) return { error: 'the path must start with "/"' };

  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    // RFC 9112 §3.2: the request-target is visible ASCII; NUL, controls, space, DEL, non-ASCII refused.
    if (c <= 0x20 || c >= 0x7f) return { error: `the path has a forbidden character (0x${c.toString(16).padStart(2, '0')})` };
    const ch = raw[i]!;
    if (ch !== '%') {
      decoded += ch === '\\' ? '/' : ch;
      continue;
    }
    const pair = raw.slice(i + 1, i + 3);
    if (!hex.test(pair)) return { error: `invalid percent-encoding at offset ${i}` };
    i += 2;
    const byte = parseInt(pair, 16);
    // Istio: %00 is always rejected with 400.
    if (byte === 0) return { error: 'the path has an encoded NUL (%00)' };
    const char = String.fromCharCode(byte);
    if (unreserved.test(char)) decoded += char;
    else if (decodeSlashes && (byte === 0x2f || byte === 0x5c)) decoded += '/';
    else decoded += `%${pair.toUpperCase()}`;
  }

  const path = removeDotSegments(decoded);
  return { path: mergeSlashes ? path.replace(/\/{2,}/g, '/') : path, query };
}

/** RFC 3986 §5.2.4 on an absolute path: `.` dropped, `..` drops the segment before it (never above root). */
function removeDotSegments(path: string): string {
  const segments = path.split('/').slice(1);
  const out: string[] = [];
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push(''); // `/a/.` and `/a/b/..` keep their trailing slash
    } else {
      out.push(seg);
    }
  });
  return `/${out.join('/')}`;
}
