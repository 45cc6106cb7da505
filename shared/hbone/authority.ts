// The CONNECT `:authority` of an HBONE stream: a literal `IPv4:port` or `[IPv6]:port`, nothing
// else (ztunnel's inbound accepts no host names here, and no zone ids).
import { isIPv4, isIPv6 } from 'node:net';

export interface HboneAuthority {
  readonly ip: string;
  readonly port: number;
}

export type AuthorityParse = { ok: true; authority: HboneAuthority } | { ok: false; reason: string };

const maxAuthorityLength = 64; // "[" + 45-char IPv6 + "]:" + 5 digits is 53

export function parseHboneAuthority(value: unknown): AuthorityParse {
  if (typeof value !== 'string' || value.length === 0) return { ok: false, reason: 'missing :authority' };
  if (value.length > maxAuthorityLength) return { ok: false, reason: 'authority too long' };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([1-9][0-9]{0,4})$/.exec(value);
  if (!m) return { ok: false, reason: 'authority must be IP:port' };
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, reason: 'port out of range' };
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) return { ok: false, reason: 'invalid IPv6 address' };
    return { ok: true, authority: { ip: m[1].toLowerCase(), port } };
  }
  if (!isIPv4(m[2]!)) return { ok: false, reason: 'invalid IPv4 address' };
  return { ok: true, authority: { ip: m[2]!, port } };
}

export function formatHboneAuthority(a: HboneAuthority): string {
  return isIPv6(a.ip) ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}
