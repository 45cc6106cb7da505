// The original destination of a connection the kernel redirected (iptables REDIRECT): Node has no
// getsockopt, so kernelOriginalDst() calls libc's through koffi on the socket's fd — loaded on first
// use only, so processes that never capture never load the FFI. Never throws.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { endianness } from 'node:os';

export interface SocketAddress {
  readonly ip: string;
  readonly port: number;
}

export type OriginalDstResolver = (socket: Socket) => SocketAddress | undefined;

// <linux/in.h>, <linux/netfilter_ipv4.h>, <linux/netfilter_ipv6/ip6_tables.h>
const SOL_IP = 0;
const SOL_IPV6 = 41;
const SO_ORIGINAL_DST = 80;
const IP6T_SO_ORIGINAL_DST = 80;
const AF_INET = 2;
const AF_INET6 = 10;
const sockaddrInBytes = 16;
const sockaddrIn6Bytes = 28;
// sa_family_t is in host byte order; port and address are in network order.
const hostLittleEndian = endianness() === 'LE';

/** Parses a struct sockaddr_in (family in host order, port and address in network order). */
export function parseSockaddrIn(buf: Uint8Array): SocketAddress | undefined {
  if (buf.length < 8) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint16(0, hostLittleEndian) !== AF_INET) return undefined;
  return { ip: `${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}`, port: view.getUint16(2, false) };
}

/** Parses a struct sockaddr_in6; an IPv4-mapped address (::ffff:a.b.c.d) comes back as a.b.c.d. */
export function parseSockaddrIn6(buf: Uint8Array): SocketAddress | undefined {
  if (buf.length < 24) return undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.getUint16(0, hostLittleEndian) !== AF_INET6) return undefined;
  return { ip: formatIpv6(buf.subarray(8, 24)), port: view.getUint16(2, false) };
}

/** RFC 5952 text for 16 address bytes: lowercase, longest run (≥ 2) of zero groups as `::`. */
export function formatIpv6(bytes: Uint8Array): string {
  const isMapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (isMapped) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

type GetSockOpt = (fd: number, level: number, optname: number, optval: Buffer, optlen: number[]) => number;

interface Ffi {
  readonly getsockopt: GetSockOpt;
  readonly errno: () => number;
}

let ffi: Ffi | { readonly failure: string } | undefined;

function loadFfi(): Ffi | { readonly failure: string } {
  if (ffi) return ffi;
  try {
    // koffi's CommonJS entry, required synchronously: a resolver runs inside an accept handler.
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    // dlopen(NULL): the process itself, whose libc (glibc or musl) exports getsockopt.
    const libc = koffi.load(null);
    const getsockopt = libc.func('int getsockopt(int, int, int, _Out_ uint8_t *optval, _Inout_ uint32_t *optlen)') as GetSockOpt;
    ffi = { getsockopt, errno: () => koffi.errno() };
  } catch (err) {
    ffi = { failure: `cannot call getsockopt through koffi: ${err instanceof Error ? err.message : String(err)}` };
  }
  return ffi;
}

export type OriginalDstLookup =
  | { readonly ok: true; readonly address: SocketAddress }
  | { readonly ok: false; readonly reason: string };

function socketFd(socket: Socket): number | undefined {
  // Node keeps the fd on the libuv handle; there is no public accessor.
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * The original destination with the reason when there is none (for logs): no fd, FFI unavailable,
 * or the errno of getsockopt (ENOENT, 2, for a connection that was not redirected).
 */
export function lookupOriginalDst(socket: Socket): OriginalDstLookup {
  const fd = socketFd(socket);
  if (fd === undefined) return { ok: false, reason: 'socket has no file descriptor' };
  const lib = loadFfi();
  if ('failure' in lib) return { ok: false, reason: lib.failure };
  // An IPv6 socket carrying IPv4 (::ffff:a.b.c.d) was NATed by the IPv4 conntrack: ask SOL_IP.
  // The peer's address tells the family as well as ours and is read (and cached) by every caller
  // anyway; reading localAddress would cache a second address object per connection.
  const peer = socket.remoteAddress ?? '';
  const ipv6 = peer.includes(':') && !(peer.startsWith('::ffff:') && peer.includes('.'));
  const [level, optname, size]: readonly [number, number, number] = ipv6 ? [SOL_IPV6, IP6T_SO_ORIGINAL_DST, sockaddrIn6Bytes] : [SOL_IP, SO_ORIGINAL_DST, sockaddrInBytes];
  const buf = Buffer.alloc(size);
  const len = [size];
  let rc: number;
  try {
    rc = lib.getsockopt(fd, level, optname, buf, len);
  } catch (err) {
    return { ok: false, reason: `getsockopt failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (rc !== 0) return { ok: false, reason: `getsockopt(${ipv6 ? 'SOL_IPV6' : 'SOL_IP'}, SO_ORIGINAL_DST) failed with errno ${lib.errno()}` };
  const got = buf.subarray(0, Math.min(size, len[0] ?? 0));
  const address = ipv6 ? parseSockaddrIn6(got) : parseSockaddrIn(got);
  return address ? { ok: true, address } : { ok: false, reason: 'getsockopt returned an unexpected address family' };
}

/** The kernel's answer, or undefined (not redirected, no fd, FFI unavailable). Never throws. */
export const kernelOriginalDst: OriginalDstResolver = (socket) => {
  const r = lookupOriginalDst(socket);
  return r.ok ? r.address : undefined;
};

/** Whether kernelOriginalDst can work in this process (loads koffi): for a startup log line. */
export function originalDstSupport(): { readonly ok: true } | { readonly ok: false; readonly reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `SO_ORIGINAL_DST is Linux-only (platform ${process.platform})` };
  const lib = loadFfi();
  return 'failure' in lib ? { ok: false, reason: lib.failure } : { ok: true };
}
