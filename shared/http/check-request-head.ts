// checkRequestHead(): what the waypoint refuses with 400 before routing and authorization
// (issue 5: malformed HTTP, lowercase method). Method: an RFC 9110 §9.1 token, upper-case only
// (Istio's normalization page: a method not in upper case is rejected with 400). Path: normalizable
// (normalize-path.ts: origin-form or `*`, no NUL/controls/space, valid %HH). Authority: RFC 3986
// §3.2.2 host with an optional port, no userinfo (RFC 9110 §4.2.4). Header names are tokens and
// values carry no NUL/CR/LF (RFC 9110 §5.5); one Host; framing unambiguous (RFC 9112 §6).
import { normalizePath, type PathNormalization } from '../authz/normalize-path.js';
import type { RequestHead } from './request-head.js';

export type RequestHeadCheck = { readonly ok: true } | { readonly ok: false; readonly status: 400; readonly reason: string };

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const host = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)$/;
const bad = (reason: string): RequestHeadCheck => ({ ok: false, status: 400, reason });

export function checkRequestHead(head: RequestHead, normalization?: PathNormalization): RequestHeadCheck {
  if (!token.test(head.method)) return bad('the method is not an HTTP token');
  if (/[a-z]/.test(head.method)) return bad('the method must be upper-case');
  if (head.path === '') return bad('the path is empty');
  const path = normalizePath(head.path, normalization);
  if ('error' in path) return bad(path.error);
  const authority = checkAuthority(head.authority);
  if (authority) return bad(authority);
  let hosts = 0;
  let contentLength: string | undefined;
  let chunked = false;
  for (const [name, value] of head.headers) {
    if (!token.test(name)) return bad('a header name is not an HTTP token');
    if (/[\0\r\n]/.test(value)) return bad(`header ${name} has a NUL, CR or LF`);
    if (name === 'host' && ++hosts > 1) return bad('more than one Host header'); // RFC 9112 §3.2
    if (name === 'transfer-encoding') chunked = true;
    if (name === 'content-length') {
      // RFC 9112 §6.3: differing or invalid lengths are unrecoverable framing errors.
      if (!/^\d+$/.test(value.trim()) || (contentLength !== undefined && contentLength !== value.trim())) return bad('invalid or conflicting Content-Length');
      contentLength = value.trim();
    }
  }
  // RFC 9112 §6.1: both framings at once is a smuggling vector; Envoy refuses it by default.
  if (chunked && contentLength !== undefined) return bad('both Transfer-Encoding and Content-Length');
  return { ok: true };
}

/** Why `authority` is not `host[:port]`, or undefined when it is. */
function checkAuthority(authority: string): string | undefined {
  if (authority === '') return 'the authority (Host) is missing';
  if (authority.includes('@')) return 'the authority must not carry userinfo';
  let hostPart = authority;
  let port: string | undefined;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']') + 1;
    const rest = end > 0 ? authority.slice(end) : '';
    if (end === 0 || (rest !== '' && !rest.startsWith(':'))) return 'the authority is not a valid host';
    hostPart = authority.slice(0, end);
    if (rest !== '') port = rest.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon >= 0) {
      hostPart = authority.slice(0, colon);
      port = authority.slice(colon + 1);
    }
  }
  if (!host.test(hostPart)) return 'the authority is not a valid host';
  if (port !== undefined && (!/^\d{0,5}$/.test(port) || Number(port) > 65535)) return 'the authority has an invalid port';
  return undefined;
}
