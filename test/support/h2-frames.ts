// HTTP/2 frames and HPACK blocks built by hand (RFC 9113 §4-6, RFC 7541), so tests can send what
// no well-behaved client would: floods, bad pseudo-headers, endless CONTINUATION, overflows.
// Header blocks use literal representations only (no Huffman), which every decoder must accept.

export const clientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FrameType = {
  Data: 0x0,
  Headers: 0x1,
  RstStream: 0x3,
  Settings: 0x4,
  Ping: 0x6,
  Goaway: 0x7,
  WindowUpdate: 0x8,
  Continuation: 0x9,
} as const;

export const FrameFlag = {
  EndStream: 0x1,
  Ack: 0x1,
  EndHeaders: 0x4,
} as const;

/** RFC 9113 §7 error codes used by the tests. */
export const H2Error = {
  NoError: 0x0,
  ProtocolError: 0x1,
  InternalError: 0x2,
  FlowControlError: 0x3,
  Cancel: 0x8,
  FrameSizeError: 0x6,
  CompressionError: 0x9,
  ConnectError: 0xa,
  EnhanceYourCalm: 0xb,
} as const;

export const SettingsId = {
  HeaderTableSize: 0x1,
  EnablePush: 0x2,
  MaxConcurrentStreams: 0x3,
  InitialWindowSize: 0x4,
  MaxFrameSize: 0x5,
  MaxHeaderListSize: 0x6,
  EnableConnectProtocol: 0x8,
} as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

export function settingsFrame(entries: readonly (readonly [number, number])[] = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return encodeFrame(FrameType.Settings, ack ? FrameFlag.Ack : 0, 0, payload);
}

export function pingFrame(data: Buffer = Buffer.alloc(8), ack = false): Buffer {
  return encodeFrame(FrameType.Ping, ack ? FrameFlag.Ack : 0, 0, data);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code, 0);
  return encodeFrame(FrameType.RstStream, 0, streamId, payload);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(increment, 0);
  return encodeFrame(FrameType.WindowUpdate, 0, streamId, payload);
}

export function headersFrame(streamId: number, block: Buffer, opts: { endHeaders?: boolean; endStream?: boolean } = {}): Buffer {
  const flags = (opts.endHeaders === false ? 0 : FrameFlag.EndHeaders) | (opts.endStream ? FrameFlag.EndStream : 0);
  return encodeFrame(FrameType.Headers, flags, streamId, block);
}

export function continuationFrame(streamId: number, block: Buffer, endHeaders = false): Buffer {
  return encodeFrame(FrameType.Continuation, endHeaders ? FrameFlag.EndHeaders : 0, streamId, block);
}

export function dataFrame(streamId: number, data: Buffer, endStream = false): Buffer {
  return encodeFrame(FrameType.Data, endStream ? FrameFlag.EndStream : 0, streamId, data);
}

/** RFC 7541 §5.1 integer with an N-bit prefix; `high` holds the representation's leading bits. */
export function hpackInteger(value: number, prefixBits: number, high = 0): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([high | value]);
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** RFC 7541 §5.2 string literal, raw octets (no Huffman). Strings are taken as latin1 bytes. */
export function hpackString(s: string | Buffer): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  return Buffer.concat([hpackInteger(bytes.length, 7, 0x00), bytes]);
}

/** Literal header field without indexing, new name (RFC 7541 §6.2.2). */
export function hpackLiteral(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}

/** Literal header field with incremental indexing, new name (§6.2.1): lands in the dynamic table. */
export function hpackLiteralIndexed(name: string, value: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}

/** Indexed header field (§6.1): one byte for a small index, e.g. 62 = newest dynamic entry. */
export function hpackIndexed(index: number): Buffer {
  return hpackInteger(index, 7, 0x80);
}

export function headerBlock(headers: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(headers.map(([n, v]) => hpackLiteral(n, v)));
}

/** The CONNECT an HBONE client sends (RFC 9113 §8.5), plus any extra fields. */
export function connectBlock(authority: string, extra: readonly (readonly [string, string])[] = []): Buffer {
  return headerBlock([[':method', 'CONNECT'], [':authority', authority], ...extra]);
}

/** Incremental frame parser: feed it bytes, get whole frames back. */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Frame[] = [];
    while (this.buffered.length >= 9) {
      const length = this.buffered.readUIntBE(0, 3);
      if (this.buffered.length < 9 + length) break;
      frames.push({
        type: this.buffered[3]!,
        flags: this.buffered[4]!,
        streamId: this.buffered.readUInt32BE(5) & 0x7fffffff,
        payload: this.buffered.subarray(9, 9 + length),
      });
      this.buffered = this.buffered.subarray(9 + length);
    }
    return frames;
  }
}

// RFC 7541 Appendix A: the static entries that carry a :status.
const staticStatus: Readonly<Record<number, number>> = { 8: 200, 9: 204, 10: 206, 11: 304, 12: 400, 13: 404, 14: 500 };

/**
 * The `:status` of a response header block when it is the first field (servers put pseudo-headers
 * first): indexed from the static table, or a literal with the static `:status` name and a raw
 * (non-Huffman) value. Anything else is `undefined`; the tests only need 200 and 4xx/5xx.
 */
export function responseStatus(block: Buffer): number | undefined {
  const first = block[0];
  if (first === undefined) return undefined;
  if (first & 0x80) return staticStatus[first & 0x7f];
  const nameIndex = first & 0x40 ? first & 0x3f : first & 0x0f;
  if (nameIndex < 8 || nameIndex > 14) return undefined;
  const lenByte = block[1];
  if (lenByte === undefined || lenByte & 0x80) return undefined;
  return Number(block.subarray(2, 2 + lenByte).toString('latin1'));
}
