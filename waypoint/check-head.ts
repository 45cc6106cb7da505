// Placeholder until shared/http/check-request-head.ts lands: refuse what must never be routed.
import type { RequestHead } from '../shared/http/request-head.js';

export function checkHead(head: RequestHead): { ok: true } | { ok: false; reason: string } {
  if (!/^[A-Z][A-Z0-9!#$%&'*+.^_`|~-]*$/.test(head.method)) return { ok: false, reason: 'invalid method' };
  if (head.method !== 'CONNECT' && head.method !== 'OPTIONS' && !head.path.startsWith('/')) return { ok: false, reason: 'invalid path' };
  if (/[\x00-\x20\x7f]/.test(head.path)) return { ok: false, reason: 'invalid character in path' };
  return { ok: true };
}
