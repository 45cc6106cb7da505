// HTTP/1.1 message heads (RFC 9112), parsed strictly for a proxy: the waypoint's own parser on its
// hot path (node:http's server and client over HBONE streams cost ~half its CPU; bench/README.md).
// Strict where lenient parsing lets requests be smuggled (reliability-cases.md 4b): CRLF line ends
// only (a bare CR or LF is an error), no obs-fold, no whitespace before the colon, header names
// are tokens, values carry no control characters, and the framing is decided here (RFC 9112 §6.3):
// Transfer-Encoding other than a lone `chunked`, Transfer-Encoding with Content-Length, and
// invalid or differing Content-Lengths are refused. Pure: bytes in, a head or an error out.

/** Header names lower-cased, values trimmed of surrounding whitespace, in order received. */
export type H1Headers = [string, string][];

/** How the body that follows the head is delimited. */
export type H1Framing =
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' }
  /** Response only: the body runs until the connection closes. */
  | { readonly kind: 'close' };

interface H1Common {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly headers: H1Headers;
  readonly framing: H1Framing;
  /** The connection may carry another message after this one. */
  readonly keepAlive: boolean;
}

export interface H1RequestHead extends H1Common {
  readonly method: string;
  readonly target: string;
  /** `Expect: 100-continue` was asked for. */
  readonly expectContinue: boolean;
}

export interface H1ResponseHead extends H1Common {
  readonly status: number;
}

export type H1Parse<T> =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'error'; readonly status: 400 | 431; readonly reason: string }
  | { readonly kind: 'head'; readonly head: T; readonly consumed: number };

export interface H1Limits {
  /** Bytes of request line + headers (Envoy's default is 60 KiB). */
  readonly maxHeadBytes: number;
  readonly maxHeaders: number;
}

export const defaultH1Limits: H1Limits = { maxHeadBytes: 60 * 1024, maxHeaders: 1000 };

const incomplete = { kind: 'incomplete' } as const;
const fail = (reason: string, status: 400 | 431 = 400): { kind: 'error'; status: 400 | 431; reason: string } => ({ kind: 'error', status, reason });

// RFC 9110 §5.6.2 tchar.
const tchar = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") tchar[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) tchar[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) tchar[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) tchar[c] = 1;

function isToken(s: string, upperOnly = false): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || tchar[c] !== 1 || (upperOnly && c >= 0x61 && c <= 0x7a)) return false;
  }
  return true;
}

/** A field value may hold HTAB, SP, VCHAR and obs-text, nothing else (RFC 9110 §5.5). */
function badValueChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * A header field this proxy may write: a token name and a value without control characters. Values
 * from configuration (route header filters) are not trusted to be clean: a CR or LF written raw
 * would split the message (response splitting, RFC 9112 §11.1).
 */
export function isWritableField(name: string, value: string): boolean {
  return isToken(name) && !badValueChar(value);
}

/** `line` from `from`, without leading and trailing SP/HTAB (OWS). */
function trimOws(line: string, from: number): string {
  let a = from;
  let b = line.length;
  while (a < b && (line.charCodeAt(a) === 0x20 || line.charCodeAt(a) === 0x09)) a++;
  while (b > a && (line.charCodeAt(b - 1) === 0x20 || line.charCodeAt(b - 1) === 0x09)) b--;
  return line.slice(a, b);
}

/** Finds the end of the head (CRLFCRLF) at or after `from`; -1 if not there yet. */
const blankLine = Buffer.from('\r\n\r\n', 'latin1');
function headEnd(buf: Buffer, from: number): number {
  return buf.indexOf(blankLine, Math.max(0, from - 3));
}

/**
 * Splits the head into lines and header fields. `start` is the first line (request or status).
 * `scanFrom` lets a caller that already searched part of `buf` skip it.
 */
function splitHead(buf: Buffer, limits: H1Limits, scanFrom: number): { error: ReturnType<typeof fail> } | { first: string; headers: H1Headers; consumed: number } | undefined {
  const end = headEnd(buf, scanFrom);
  if (end === -1) return buf.length > limits.maxHeadBytes ? { error: fail('request headers too large', 431) } : undefined;
  if (end + 4 > limits.maxHeadBytes) return { error: fail('request headers too large', 431) };
  const text = buf.toString('latin1', 0, end);
  const lines = text.split('\r\n');
  const first = lines[0]!;
  if (lines.length - 1 > limits.maxHeaders) return { error: fail('too many headers', 431) };
  const headers: H1Headers = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return { error: fail(line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09 ? 'obsolete line folding' : 'a header line has no name') };
    const name = line.slice(0, colon);
    if (!isToken(name)) return { error: fail('a header name is not a token (whitespace before the colon?)') };
    const value = trimOws(line, colon + 1);
    if (badValueChar(value)) return { error: fail(`header ${name.toLowerCase()} has a control character (bare CR or LF?)`) };
    headers.push([name.toLowerCase(), value]);
  }
  return { first, headers, consumed: end + 4 };
}

interface Connection {
  close: boolean;
  keepAlive: boolean;
}

function connectionTokens(headers: H1Headers): Connection {
  const out = { close: false, keepAlive: false };
  for (const [n, v] of headers) {
    if (n !== 'connection') continue;
    for (const t of v.toLowerCase().split(',')) {
      const x = t.trim();
      if (x === 'close') out.close = true;
      else if (x === 'keep-alive') out.keepAlive = true;
    }
  }
  return out;
}

/** RFC 9112 §6.3 items 3-6, shared by requests and responses. */
function framingOf(headers: H1Headers, response: boolean): H1Framing | { error: string } {
  let te: string | undefined;
  let teCount = 0;
  let length: string | undefined;
  for (const [n, v] of headers) {
    if (n === 'transfer-encoding') {
      teCount++;
      te = v.toLowerCase();
    } else if (n === 'content-length') {
      if (!/^\d{1,15}$/.test(v)) return { error: 'invalid Content-Length' };
      if (length !== undefined && length !== v) return { error: 'conflicting Content-Length headers' };
      length = v;
    }
  }
  if (teCount > 0) {
    if (length !== undefined) return { error: 'both Transfer-Encoding and Content-Length' };
    // A request must end in chunked and we accept no other coding; a response with another final
    // coding runs until close (§6.3 item 4).
    if (teCount === 1 && te === 'chunked') return { kind: 'chunked' };
    if (response && /(^|,)\s*chunked\s*$/.test(te ?? '') === false) return { kind: 'close' };
    return { error: 'unsupported Transfer-Encoding (only a single "chunked")' };
  }
  if (length !== undefined) return { kind: 'length', length: Number(length) };
  return response ? { kind: 'close' } : { kind: 'length', length: 0 };
}

/** A request head at the start of `buf` (RFC 9112 §3). */
export function parseRequestHead(buf: Buffer, limits: H1Limits = defaultH1Limits, scanFrom = 0): H1Parse<H1RequestHead> {
  // Before the head is complete, refuse an obviously bad request line early (no waiting for more).
  const split = splitHead(buf, limits, scanFrom);
  if (!split) return incomplete;
  if ('error' in split) return split.error;
  const m = /^([^ ]+) ([^ ]+) HTTP\/1\.([01])$/.exec(split.first);
  if (!m) return fail('malformed request line');
  const method = m[1]!;
  if (!isToken(method, true)) return fail(/[a-z]/.test(method) ? 'the method must be upper-case' : 'the method is not a token');
  const target = m[2]!;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return fail('a control character in the request target');
  }
  const minor = m[3] === '1' ? 1 : 0;
  const framing = framingOf(split.headers, false);
  if ('error' in framing) return fail(framing.error);
  // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing (a 1.0 hop before
  // us may not have understood it); refused, so no byte of it is taken as a next request.
  if (minor === 0 && framing.kind === 'chunked') return fail('Transfer-Encoding in an HTTP/1.0 request');
  const conn = connectionTokens(split.headers);
  let expectContinue = false;
  for (const [n, v] of split.headers) if (n === 'expect' && v.toLowerCase() === '100-continue') expectContinue = minor === 1;
  const keepAlive = minor === 1 ? !conn.close : conn.keepAlive && !conn.close;
  return { kind: 'head', head: { method, target, minor, headers: split.headers, framing, keepAlive, expectContinue }, consumed: split.consumed };
}

/**
 * A response head at the start of `buf` (RFC 9112 §4). `requestMethod` decides bodiless answers
 * (HEAD; 204 and 304 never have one). 1xx heads parse like others; the caller skips them.
 */
export function parseResponseHead(buf: Buffer, requestMethod: string, limits: H1Limits = defaultH1Limits, scanFrom = 0): H1Parse<H1ResponseHead> {
  const split = splitHead(buf, limits, scanFrom);
  if (!split) return incomplete;
  if ('error' in split) return split.error;
  const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(split.first);
  if (!m) return fail('malformed status line');
  const status = Number(m[2]);
  // RFC 9110 §15: status codes are 100-599; below 100 is not informational, it is malformed.
  if (status < 100) return fail('status code below 100');
  const minor = m[1] === '1' ? 1 : 0;
  const conn = connectionTokens(split.headers);
  let framing: H1Framing | { error: string };
  if (requestMethod === 'HEAD' || status === 204 || status === 304 || status < 200) framing = { kind: 'length', length: 0 };
  else framing = framingOf(split.headers, true);
  if ('error' in framing) return fail(framing.error);
  // RFC 9112 §6.1: an HTTP/1.0 response with Transfer-Encoding has faulty framing: never reused.
  const faulty = minor === 0 && split.headers.some(([n]) => n === 'transfer-encoding');
  const keepAlive = framing.kind !== 'close' && !faulty && (minor === 1 ? !conn.close : conn.keepAlive && !conn.close);
  return { kind: 'head', head: { status, minor, headers: split.headers, framing, keepAlive }, consumed: split.consumed };
}

/**
 * Header names a proxy never forwards (RFC 9110 §7.6.1; endToEndHeaders() also drops any the
 * Connection header names), HTTP/2's connection-specific ones included (RFC 9113 §8.2.2).
 */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate', 'proxy-authorization', 'http2-settings']);

/** `headers` without the hop-by-hop ones; a fresh list. */
export function endToEndHeaders(headers: readonly (readonly [string, string])[]): H1Headers {
  let named: Set<string> | undefined;
  for (const [n, v] of headers) {
    if (n !== 'connection') continue;
    for (const t of v.toLowerCase().split(',')) {
      const x = t.trim();
      if (x && x !== 'close' && x !== 'keep-alive') (named ??= new Set()).add(x);
    }
  }
  const out: H1Headers = [];
  for (const [n, v] of headers) if (!hopByHop.has(n) && !named?.has(n)) out.push([n, v]);
  return out;
}

/** Is `name` hop-by-hop (not including names listed in a Connection header)? */
export function isHopByHop(name: string): boolean {
  return hopByHop.has(name);
}
