// HTTP/2 framing (RFC 9113 §4, §6) for the lean HBONE engine: frame types, flags, error codes,
// settings identifiers, and the writers for the frames an HBONE session sends. Reading is in
// frame-reader.ts.

export const FrameType = {
  Data: 0x0,
  Headers: 0x1,
  Priority: 0x2,
  RstStream: 0x3,
  Settings: 0x4,
  PushPromise: 0x5,
  Ping: 0x6,
  GoAway: 0x7,
  WindowUpdate: 0x8,
  Continuation: 0x9,
} as const;

export const FrameFlag = {
  EndStream: 0x1,
  Ack: 0x1,
  EndHeaders: 0x4,
  Padded: 0x8,
  Priority: 0x20,
} as const;

/** RFC 9113 §7; the same numbers as Node's `http2.constants.NGHTTP2_*`. */
export const H2Code = {
  NoError: 0x0,
  ProtocolError: 0x1,
  InternalError: 0x2,
  FlowControlError: 0x3,
  SettingsTimeout: 0x4,
  StreamClosed: 0x5,
  FrameSizeError: 0x6,
  RefusedStream: 0x7,
  Cancel: 0x8,
  CompressionError: 0x9,
  ConnectError: 0xa,
  EnhanceYourCalm: 0xb,
  InadequateSecurity: 0xc,
  Http11Required: 0xd,
} as const;

export const SettingId = {
  HeaderTableSize: 0x1,
  EnablePush: 0x2,
  MaxConcurrentStreams: 0x3,
  InitialWindowSize: 0x4,
  MaxFrameSize: 0x5,
  MaxHeaderListSize: 0x6,
} as const;

/** RFC 9113 §3.4: what a client sends first. */
export const clientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const frameHeaderBytes = 9;
/** RFC 9113 §6.5.2: the initial SETTINGS_MAX_FRAME_SIZE and the largest allowed. */
export const minMaxFrameBytes = 16_384;
export const maxMaxFrameBytes = 16_777_215;
/** RFC 9113 §6.9.1: windows start at 65,535 and may not pass 2^31-1. */
export const defaultWindowBytes = 65_535;
export const maxWindowBytes = 0x7fff_ffff;

/** The settings of one side, with RFC 9113 §6.5.2's initial values where not sent. */
export interface H2Settings {
  headerTableSize: number;
  enablePush: boolean;
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  maxHeaderListSize: number;
}

export function defaultSettings(): H2Settings {
  return {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Infinity,
    initialWindowSize: defaultWindowBytes,
    maxFrameSize: minMaxFrameBytes,
    maxHeaderListSize: Infinity,
  };
}

export function writeFrameHeader(buf: Buffer, offset: number, length: number, type: number, flags: number, streamId: number): void {
  buf[offset] = length >>> 16;
  buf[offset + 1] = (length >>> 8) & 0xff;
  buf[offset + 2] = length & 0xff;
  buf[offset + 3] = type;
  buf[offset + 4] = flags;
  buf.writeUInt32BE(streamId & 0x7fff_ffff, offset + 5);
}

export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const buf = Buffer.allocUnsafe(frameHeaderBytes + length);
  writeFrameHeader(buf, 0, length, type, flags, streamId);
  if (payload) payload.copy(buf, frameHeaderBytes);
  return buf;
}

/** A SETTINGS frame with the given entries (identifier, value), in order. */
export function settingsFrame(entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const buf = Buffer.allocUnsafe(frameHeaderBytes + 6 * entries.length);
  writeFrameHeader(buf, 0, 6 * entries.length, FrameType.Settings, 0, 0);
  let at = frameHeaderBytes;
  for (const [id, value] of entries) {
    buf.writeUInt16BE(id, at);
    buf.writeUInt32BE(value, at + 2);
    at += 6;
  }
  return buf;
}

export const settingsAckFrame = frame(FrameType.Settings, FrameFlag.Ack, 0);

/** A frame whose payload is one 32-bit number (WINDOW_UPDATE, RST_STREAM). */
function uint32Frame(type: number, streamId: number, value: number): Buffer {
  const buf = Buffer.allocUnsafe(frameHeaderBytes + 4);
  writeFrameHeader(buf, 0, 4, type, 0, streamId);
  buf.writeUInt32BE(value, frameHeaderBytes);
  return buf;
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  return uint32Frame(FrameType.WindowUpdate, streamId, increment);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  return uint32Frame(FrameType.RstStream, streamId, code);
}

export function goAwayFrame(lastStreamId: number, code: number): Buffer {
  const buf = Buffer.allocUnsafe(frameHeaderBytes + 8);
  writeFrameHeader(buf, 0, 8, FrameType.GoAway, 0, 0);
  buf.writeUInt32BE(lastStreamId & 0x7fff_ffff, frameHeaderBytes);
  buf.writeUInt32BE(code, frameHeaderBytes + 4);
  return buf;
}

export function pingFrame(payload: Buffer, ack: boolean): Buffer {
  return frame(FrameType.Ping, ack ? FrameFlag.Ack : 0, 0, payload);
}

/** A HEADERS frame carrying a whole header block (with END_HEADERS), split into CONTINUATIONs past `maxFrameBytes`. */
export function headersFrames(streamId: number, block: Buffer, endStream: boolean, maxFrameBytes: number): Buffer {
  if (block.length <= maxFrameBytes) return frame(FrameType.Headers, FrameFlag.EndHeaders | (endStream ? FrameFlag.EndStream : 0), streamId, block);
  const parts: Buffer[] = [];
  for (let at = 0; at < block.length; at += maxFrameBytes) {
    const piece = block.subarray(at, at + maxFrameBytes);
    const first = at === 0;
    const last = at + maxFrameBytes >= block.length;
    const type = first ? FrameType.Headers : FrameType.Continuation;
    const flags = (last ? FrameFlag.EndHeaders : 0) | (first && endStream ? FrameFlag.EndStream : 0);
    parts.push(frame(type, flags, streamId, piece));
  }
  return Buffer.concat(parts);
}
