// HeaderBlockAssembler: a header block from one HEADERS frame and the CONTINUATION frames after it
// (RFC 9113 §6.2, §6.10), with padding and the priority fields stripped. Fragments are copied
// (the frame payloads are only valid during the reader's call); the block's total size is bounded
// so a CONTINUATION flood (CVE-2024-27316) ends as an error, not in memory.
import { FrameFlag, H2Code } from './frames.js';

export type HeaderBlockStep =
  | { readonly kind: 'pending' }
  | { readonly kind: 'block'; readonly streamId: number; readonly flags: number; readonly block: Buffer }
  | { readonly kind: 'error'; readonly code: number; readonly reason: string };

const pending: HeaderBlockStep = { kind: 'pending' };

export class HeaderBlockAssembler {
  private readonly maxBlockBytes: number;
  private partial: { streamId: number; flags: number; parts: Buffer[]; bytes: number } | undefined = undefined;

  constructor(maxBlockBytes: number) {
    this.maxBlockBytes = maxBlockBytes;
  }

  /** A HEADERS frame started a block that CONTINUATION frames must finish first. */
  get inProgress(): boolean {
    return this.partial !== undefined;
  }

  headers(flags: number, streamId: number, payload: Buffer): HeaderBlockStep {
    if (streamId === 0) return { kind: 'error', code: H2Code.ProtocolError, reason: 'HEADERS on stream 0' };
    let at = 0;
    let end = payload.length;
    if (flags & FrameFlag.Padded) {
      end -= payload.length > 0 ? payload[0]! : end + 1;
      at = 1;
    }
    if (flags & FrameFlag.Priority) at += 5;
    if (end < at) return { kind: 'error', code: H2Code.ProtocolError, reason: 'HEADERS padding or priority exceeds the frame' };
    const fragment = payload.subarray(at, end);
    if (flags & FrameFlag.EndHeaders) return { kind: 'block', streamId, flags, block: fragment };
    this.partial = { streamId, flags, parts: [Buffer.from(fragment)], bytes: fragment.length };
    return pending;
  }

  continuation(flags: number, streamId: number, payload: Buffer): HeaderBlockStep {
    const partial = this.partial;
    if (partial === undefined || partial.streamId !== streamId) return { kind: 'error', code: H2Code.ProtocolError, reason: 'unexpected CONTINUATION' };
    partial.bytes += payload.length;
    if (partial.bytes > this.maxBlockBytes) {
      this.partial = undefined;
      return { kind: 'error', code: H2Code.EnhanceYourCalm, reason: 'header block too large' };
    }
    partial.parts.push(Buffer.from(payload));
    if ((flags & FrameFlag.EndHeaders) === 0) return pending;
    this.partial = undefined;
    return { kind: 'block', streamId, flags: partial.flags, block: Buffer.concat(partial.parts, partial.bytes) };
  }
}
