// Where a captured connection was going. In production the kernel tells (kernelOriginalDst in
// shared/net/orig-dst.ts, after an iptables REDIRECT); the direct test tier injects these instead.
import type { OriginalDstResolver, SocketAddress } from '../shared/net/orig-dst.js';

export type { OriginalDstResolver, SocketAddress };

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets. */
export function plainIp(ip: string | undefined): string | undefined {
  return ip?.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * For tests: the destination a test client registered for its own (source IP, source port)
 * before connecting — the direct tier's stand-in for the kernel's NAT table.
 */
export class OriginalDstTable {
  private readonly entries = new Map<string, SocketAddress>();

  set(src: SocketAddress, dst: SocketAddress): void {
    this.entries.set(`${src.ip}|${src.port}`, dst);
  }

  readonly resolve: OriginalDstResolver = (socket) => {
    const ip = plainIp(socket.remoteAddress);
    return ip === undefined ? undefined : this.entries.get(`${ip}|${socket.remotePort}`);
  };
}

/**
 * For tests: a listener bound to the destination's own address (e.g. one 127.x address per pod)
 * sees the original destination as its local address; `port` is the port the client meant.
 */
export function localAddressOriginalDst(port?: number): OriginalDstResolver {
  return (socket) => {
    const ip = plainIp(socket.localAddress);
    return ip === undefined ? undefined : { ip, port: port ?? socket.localPort ?? 0 };
  };
}
