// FrameReader: splits the decrypted byte stream of an HTTP/2 connection into frames (RFC 9113
// §4.1). Unpadded DATA payloads are handed on piece by piece as they arrive, never gathered, so a
// 16 KiB DATA frame that straddles two TLS records costs no copy; every other frame is delivered
// whole. The server side first checks the client preface (§3.4).
import { clientPreface, FrameFlag, FrameType, frameHeaderBytes, H2Code } from './frames.js';

export interface FrameSink {
  /** A whole frame other than DATA. `payload` is only valid during the call (it may view the input). */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /** A DATA frame starts: `length` is its whole flow-controlled length (padding included). */
  onDataStart(streamId: number, flags: number, length: number): void;
  /** Payload bytes of the current DATA frame (padding removed); only valid during the call. */
  onDataPiece(streamId: number, piece: Buffer): void;
  onDataEnd(streamId: number, flags: number): void;
  /** A framing error: the connection must end with GOAWAY(code). */
  onFrameError(code: number, reason: string): void;
}

const Phase = { Preface: 0, Header: 1, Payload: 2, DataPayload: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

export class FrameReader {
  private readonly sink: FrameSink;
  private maxFrameBytes: number;
  private phase: Phase;
  private stopped = false;
  /** Bytes of a header or a gathered payload not complete yet. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;
  private length = 0;
  /** DATA payload bytes still to come for the current unpadded DATA frame. */
  private dataLeft = 0;

  constructor(sink: FrameSink, opts: { maxFrameBytes: number; expectPreface: boolean }) {
    this.sink = sink;
    this.maxFrameBytes = opts.maxFrameBytes;
    this.phase = opts.expectPreface ? Phase.Preface : Phase.Header;
  }

  /** Stops delivering frames (the connection is ending); later input is ignored. */
  stop(): void {
    this.stopped = true;
    this.parts = [];
  }

  push(chunk: Buffer): void {
    let at = 0;
    const end = chunk.length;
    while (at < end && !this.stopped) {
      switch (this.phase) {
        case Phase.Preface: {
          const got = this.gather(chunk, at, clientPreface.length);
          at += got.used;
          if (!got.whole) return;
          if (!got.whole.equals(clientPreface)) return this.fail(H2Code.ProtocolError, 'bad client preface');
          this.phase = Phase.Header;
          break;
        }
        case Phase.Header: {
          let header: Buffer;
          let headerAt: number;
          if (this.partBytes === 0 && end - at >= frameHeaderBytes) {
            header = chunk;
            headerAt = at;
            at += frameHeaderBytes;
          } else {
            const got = this.gather(chunk, at, frameHeaderBytes);
            at += got.used;
            if (!got.whole) return;
            header = got.whole;
            headerAt = 0;
          }
          this.startFrame(header, headerAt);
          break;
        }
        case Phase.DataPayload: {
          const n = Math.min(this.dataLeft, end - at);
          const piece = at === 0 && n === end ? chunk : chunk.subarray(at, at + n);
          at += n;
          this.dataLeft -= n;
          this.sink.onDataPiece(this.streamId, piece);
          if (this.dataLeft === 0 && !this.stopped) this.endData();
          break;
        }
        case Phase.Payload: {
          let payload: Buffer;
          if (this.partBytes === 0 && end - at >= this.length) {
            payload = chunk.subarray(at, at + this.length);
            at += this.length;
          } else {
            const got = this.gather(chunk, at, this.length);
            at += got.used;
            if (!got.whole) return;
            payload = got.whole;
          }
          this.phase = Phase.Header;
          this.deliver(payload);
          break;
        }
      }
    }
  }

  private startFrame(h: Buffer, o: number): void {
    const length = (h[o]! << 16) | (h[o + 1]! << 8) | h[o + 2]!;
    this.type = h[o + 3]!;
    this.flags = h[o + 4]!;
    this.streamId = h.readUInt32BE(o + 5) & 0x7fff_ffff;
    this.length = length;
    if (length > this.maxFrameBytes) return this.fail(H2Code.FrameSizeError, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.maxFrameBytes}`);
    if (this.type === FrameType.Data && (this.flags & FrameFlag.Padded) === 0) {
      this.sink.onDataStart(this.streamId, this.flags, length);
      if (this.stopped) return;
      if (length === 0) return this.endData();
      this.dataLeft = length;
      this.phase = Phase.DataPayload;
      return;
    }
    if (length === 0) return this.deliver(Buffer.alloc(0));
    this.phase = Phase.Payload;
  }

  private endData(): void {
    this.phase = Phase.Header;
    this.sink.onDataEnd(this.streamId, this.flags);
  }

  private deliver(payload: Buffer): void {
    if (this.type !== FrameType.Data) return this.sink.onFrame(this.type, this.flags, this.streamId, payload);
    // A padded DATA frame (rare): flow control counts the whole frame, the consumer gets the data.
    const padLength = payload.length > 0 ? payload[0]! : -1;
    if (padLength < 0 || padLength >= payload.length) return this.fail(H2Code.ProtocolError, 'DATA padding exceeds the frame');
    this.sink.onDataStart(this.streamId, this.flags, payload.length);
    const data = payload.subarray(1, payload.length - padLength);
    if (!this.stopped && data.length > 0) this.sink.onDataPiece(this.streamId, data);
    if (!this.stopped) this.sink.onDataEnd(this.streamId, this.flags);
  }

  /** Collects `want` bytes across chunks; `whole` is set once they are all here. */
  private gather(chunk: Buffer, at: number, want: number): { used: number; whole?: Buffer } {
    const used = Math.min(want - this.partBytes, chunk.length - at);
    this.parts.push(chunk.subarray(at, at + used));
    this.partBytes += used;
    if (this.partBytes < want) {
      // Keep a copy: the caller may reuse its chunk after push() returns.
      this.parts[this.parts.length - 1] = Buffer.from(this.parts[this.parts.length - 1]!);
      return { used };
    }
    const whole = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, want);
    this.parts = [];
    this.partBytes = 0;
    return { used, whole };
  }

  private fail(code: number, reason: string): void {
    this.stop();
    this.sink.onFrameError(code, reason);
  }
}
