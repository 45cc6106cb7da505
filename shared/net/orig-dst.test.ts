import assert from 'node:assert/strict';
import net from 'node:net';
import { endianness } from 'node:os';
import { describe, it } from 'node:test';
import { formatIpv6, kernelOriginalDst, lookupOriginalDst, parseSockaddrIn, parseSockaddrIn6 } from './orig-dst.js';

function family(value: number): number[] {
  return endianness() === 'LE' ? [value & 0xff, value >> 8] : [value >> 8, value & 0xff];
}

// Bytes as getsockopt(SO_ORIGINAL_DST) filled them in a netns run (10.96.0.10:80).
const sockaddrIn = Uint8Array.from([...family(2), 0x00, 0x50, 10, 96, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0]);

function sockaddrIn6(port: number, addr: number[]): Uint8Array {
  return Uint8Array.from([...family(10), port >> 8, port & 0xff, 0, 0, 0, 0, ...addr, 0, 0, 0, 0]);
}

describe('sockaddr parsing for SO_ORIGINAL_DST', () => {
  it('reads a sockaddr_in with the port in network order', () => {
    assert.deepEqual(parseSockaddrIn(sockaddrIn), { ip: '10.96.0.10', port: 80 });
    const high = Uint8Array.from(sockaddrIn);
    high[2] = 0x3a;
    high[3] = 0x98;
    assert.deepEqual(parseSockaddrIn(high), { ip: '10.96.0.10', port: 15000 });
  });

  it('refuses a wrong family or a short buffer', () => {
    assert.equal(parseSockaddrIn(sockaddrIn.subarray(0, 6)), undefined);
    assert.equal(parseSockaddrIn(sockaddrIn6(80, Array(16).fill(0))), undefined);
    assert.equal(parseSockaddrIn6(sockaddrIn), undefined);
  });

  it('reads a sockaddr_in6 and compresses the address as RFC 5952 says', () => {
    const addr = [0xfd, 0x00, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
    assert.deepEqual(parseSockaddrIn6(sockaddrIn6(443, addr)), { ip: 'fd00:96::10', port: 443 });
  });

  it('returns an IPv4-mapped address as plain IPv4', () => {
    const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 244, 1, 7];
    assert.deepEqual(parseSockaddrIn6(sockaddrIn6(8080, mapped)), { ip: '10.244.1.7', port: 8080 });
  });

  it('formats IPv6 edge cases', () => {
    const g = (...groups: number[]) => Uint8Array.from(groups.flatMap((x) => [x >> 8, x & 0xff]));
    assert.equal(formatIpv6(g(0, 0, 0, 0, 0, 0, 0, 0)), '::');
    assert.equal(formatIpv6(g(0, 0, 0, 0, 0, 0, 0, 1)), '::1');
    assert.equal(formatIpv6(g(0x2001, 0xdb8, 0, 1, 0, 0, 0, 1)), '2001:db8:0:1::1');
    assert.equal(formatIpv6(g(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1');
    assert.equal(formatIpv6(g(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 'fe80::');
    assert.equal(formatIpv6(g(1, 2, 3, 4, 5, 6, 7, 8)), '1:2:3:4:5:6:7:8');
  });
});

describe('kernelOriginalDst', () => {
  it('returns undefined without throwing for a socket without an fd', () => {
    assert.equal(kernelOriginalDst(new net.Socket()), undefined);
    const r = lookupOriginalDst(new net.Socket());
    assert.equal(r.ok, false);
  });

  it('returns undefined for a loopback connection that was not redirected', async () => {
    const server = net.createServer();
    const seen: unknown[] = [];
    server.on('connection', (s) => {
      seen.push(kernelOriginalDst(s));
      const r = lookupOriginalDst(s);
      seen.push(r.ok ? 'ok' : r.reason);
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await new Promise((resolve) => client.on('close', resolve));
    await new Promise((resolve) => server.close(resolve));
    assert.equal(seen[0], undefined);
    // ENOENT: conntrack has no NAT entry for it (or the FFI is unavailable on this platform).
    assert.match(String(seen[1]), /errno 2\b|koffi|no file descriptor/);
  });
});
