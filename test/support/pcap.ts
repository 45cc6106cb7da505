// A minimal reader of classic pcap files (what `tcpdump -w` writes): Ethernet or Linux cooked
// (SLL) frames carrying IPv4 TCP, enough to say which ports talked and what their payload was.
// Everything else is counted but not decoded.

export interface TcpSegment {
  readonly src: string;
  readonly dst: string;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Buffer;
}

export interface Capture {
  readonly linkType: number;
  /** Every frame, decoded or not. */
  readonly frames: number;
  readonly tcp: readonly TcpSegment[];
  /** The whole file, for searching for bytes anywhere in it. */
  readonly raw: Buffer;
}

const linkEthernet = 1;
const linkLinuxSll = 113;

function ipv4(b: Buffer, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** Parses a pcap file; a packet cut short at the end (tcpdump still writing) is ignored. */
export function readPcap(file: Buffer): Capture {
  if (file.length < 24) return { linkType: -1, frames: 0, tcp: [], raw: file };
  const magic = file.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a pcap file (magic 0x${magic.toString(16)})`);
  const u32 = (at: number): number => (le ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = u32(20) & 0xffff;
  const tcp: TcpSegment[] = [];
  let frames = 0;
  let at = 24;
  while (at + 16 <= file.length) {
    const caplen = u32(at + 8);
    const start = at + 16;
    if (start + caplen > file.length) break;
    frames++;
    const frame = file.subarray(start, start + caplen);
    at = start + caplen;
    let ipAt: number;
    if (linkType === linkEthernet) {
      if (frame.length < 14 || frame.readUInt16BE(12) !== 0x0800) continue;
      ipAt = 14;
    } else if (linkType === linkLinuxSll) {
      if (frame.length < 16 || frame.readUInt16BE(14) !== 0x0800) continue;
      ipAt = 16;
    } else {
      continue;
    }
    if (frame.length < ipAt + 20 || (frame[ipAt]! >> 4) !== 4 || frame[ipAt + 9] !== 6) continue;
    const ihl = (frame[ipAt]! & 0x0f) * 4;
    const total = frame.readUInt16BE(ipAt + 2);
    const tcpAt = ipAt + ihl;
    if (frame.length < tcpAt + 20) continue;
    const dataOffset = (frame[tcpAt + 12]! >> 4) * 4;
    const end = Math.min(frame.length, ipAt + total);
    tcp.push({
      src: ipv4(frame, ipAt + 12),
      dst: ipv4(frame, ipAt + 16),
      srcPort: frame.readUInt16BE(tcpAt),
      dstPort: frame.readUInt16BE(tcpAt + 2),
      payload: Buffer.from(frame.subarray(Math.min(end, tcpAt + dataOffset), end)),
    });
  }
  return { linkType, frames, tcp, raw: file };
}
