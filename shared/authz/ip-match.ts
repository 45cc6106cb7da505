// CIDR containment for authorization matching, on the parsed Cidr of shared/config/cidr.ts.
// Addresses become BigInts once per call; IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 blocks.
import { isIPv4, isIPv6 } from 'node:net';
import type { Cidr } from '../config/cidr.js';

function v4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function v6ToBigInt(ip: string): bigint {
  let text = ip;
  let tail = 0n;
  let tailGroups = 0;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = v4ToBigInt(text.slice(lastColon + 1));
    tailGroups = 2;
    text = text.slice(0, lastColon + 1) + '0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array<string>(fill).fill('0'), ...restGroups];
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g || '0', 16));
  return tailGroups ? (value & ~0xffffffffn) | tail : value;
}

/** The peer address as (family, value); an IPv4-mapped IPv6 address counts as IPv4. */
export function ipValue(ip: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(ip)) return { family: 4, value: v4ToBigInt(ip) };
  if (!isIPv6(ip)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return { family: 4, value: v4ToBigInt(mapped[1]!) };
  return { family: 6, value: v6ToBigInt(ip) };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const peer = ipValue(ip);
  if (!peer || peer.family !== cidr.family) return false;
  const bits = cidr.family === 4 ? 32 : 128;
  const base = cidr.family === 4 ? v4ToBigInt(cidr.address) : v6ToBigInt(cidr.address);
  const shift = BigInt(bits - cidr.prefixLength);
  return peer.value >> shift === base >> shift;
}
