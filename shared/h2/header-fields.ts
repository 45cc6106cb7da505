// Checks a decoded header list against RFC 9113 §8.2-§8.3 and turns it into the object shape of
// Node's IncomingHttpHeaders (null prototype, pseudo-headers included, repeated fields joined).
// A malformed list is a stream error (PROTOCOL_ERROR): the reason comes back as a string.
import type { HeaderField } from './hpack-decoder.js';
import type { H2Headers } from './h2-stream.js';

const requestPseudo = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2. */
const connectionSpecific = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export function buildHeaders(fields: readonly HeaderField[], kind: 'request' | 'response'): H2Headers | string {
  const headers: H2Headers = Object.create(null);
  let regularSeen = false;
  for (const [name, value] of fields) {
    if (name.length === 0) return 'empty header name';
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (regularSeen) return `pseudo-header ${name} after a regular field`;
      if (kind === 'request' ? !requestPseudo.has(name) : name !== ':status') return `unknown pseudo-header ${name}`;
      if (headers[name] !== undefined) return `repeated pseudo-header ${name}`;
    } else {
      regularSeen = true;
      if (connectionSpecific.has(name)) return `connection-specific header ${name}`;
      if (name === 'te' && value !== 'trailers') return 'te other than trailers';
    }
    const bad = badNameOrValue(name, value);
    if (bad) return bad;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  const missing = kind === 'request' ? badRequestPseudo(headers) : /^[1-9][0-9][0-9]$/.test(headers[':status'] ?? '') ? undefined : `bad :status ${headers[':status']}`;
  return missing ?? headers;
}

/** RFC 9113 §8.3.1, §8.5: the pseudo-headers a request must (and a plain CONNECT must not) carry. */
function badRequestPseudo(h: H2Headers): string | undefined {
  const method = h[':method'];
  if (method === undefined || method === '') return 'no :method';
  if (method === 'CONNECT' && h[':protocol'] === undefined) {
    if (!h[':authority']) return 'CONNECT without :authority';
    if (h[':scheme'] !== undefined || h[':path'] !== undefined) return 'CONNECT with :scheme or :path';
    return undefined;
  }
  if (h[':protocol'] !== undefined && method !== 'CONNECT') return ':protocol on a request other than CONNECT';
  if (!h[':scheme']) return 'no :scheme';
  if (!h[':path']) return 'no :path';
  return undefined;
}

function badNameOrValue(name: string, value: string): string | undefined {
  for (let i = name.charCodeAt(0) === 58 ? 1 : 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // RFC 9113 §8.2.1: lowercase token characters only.
    if (c <= 0x20 || c >= 0x7f || (c >= 0x41 && c <= 0x5a) || c === 0x3a) return `invalid header name ${JSON.stringify(name)}`;
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return `invalid value for header ${name}`;
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return `whitespace around the value of header ${name}`;
  return undefined;
}
