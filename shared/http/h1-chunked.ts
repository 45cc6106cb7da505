// HTTP/1.1 chunked transfer coding (RFC 9112 §7.1): an incremental decoder that hands out the
// data as zero-copy slices of what arrived, and the encoder's framing. Strict like the head parser
// (h1-head.ts): CRLF only, hex sizes without overflow, bounded size lines and trailers.
import type { H1Headers } from './h1-head.js';

export type ChunkedStep =
  | { readonly kind: 'more' }
  | { readonly kind: 'error'; readonly reason: string }
  /** The last chunk and trailer section were read; `rest` is what followed (a next message). */
  | { readonly kind: 'done'; readonly trailers: H1Headers; readonly rest: Buffer };

const maxLineBytes = 4096;
const maxTrailerBytes = 60 * 1024;
const more = { kind: 'more' } as const;

const State = { size: 0, data: 1, dataEnd: 2, trailers: 3, done: 4 } as const;
type State = (typeof State)[keyof typeof State];

export class ChunkedDecoder {
  private state: State = State.size;
  private remaining = 0;
  /** A partial size line, data CRLF or trailer section carried over between pushes. */
  private carry: Buffer | undefined;
  private trailers: H1Headers = [];
  private trailerBytes = 0;

  /** Decodes `input`; each data slice goes to `onData` in order. */
  push(input: Buffer, onData: (data: Buffer) => void): ChunkedStep {
    let buf = input;
    if (this.carry) {
      buf = Buffer.concat([this.carry, input]);
      this.carry = undefined;
    }
    let at = 0;
    while (at < buf.length) {
      if (this.state === State.data) {
        const n = Math.min(this.remaining, buf.length - at);
        onData(buf.subarray(at, at + n));
        at += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = State.dataEnd;
        continue;
      }
      if (this.state === State.dataEnd) {
        if (buf.length - at < 2) break;
        if (buf[at] !== 0x0d || buf[at + 1] !== 0x0a) return { kind: 'error', reason: 'chunk data not followed by CRLF' };
        at += 2;
        this.state = State.size;
        continue;
      }
      const eol = buf.indexOf('\r\n', at, 'latin1');
      if (eol === -1) {
        if (buf.length - at > (this.state === State.size ? maxLineBytes : maxTrailerBytes)) return { kind: 'error', reason: this.state === State.size ? 'chunk size line too long' : 'trailers too large' };
        break;
      }
      const line = buf.toString('latin1', at, eol);
      at = eol + 2;
      if (this.state === State.size) {
        const m = /^([0-9a-fA-F]{1,13})[ \t]*(?:;[^\r\n]*)?$/.exec(line);
        if (!m || /[\0\r\n]/.test(line)) return { kind: 'error', reason: 'invalid chunk size line' };
        const size = parseInt(m[1]!, 16);
        if (size === 0) this.state = State.trailers;
        else {
          this.remaining = size;
          this.state = State.data;
        }
        continue;
      }
      // Trailer section: fields until an empty line.
      if (line === '') {
        this.state = State.done;
        return { kind: 'done', trailers: this.trailers, rest: buf.subarray(at) };
      }
      const colon = line.indexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\0-\x08\x0a-\x1f\x7f]/.test(line)) return { kind: 'error', reason: 'invalid trailer field' };
      this.trailers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
      this.trailerBytes += line.length + 2;
      if (this.trailers.length > 100 || this.trailerBytes > maxTrailerBytes) return { kind: 'error', reason: 'trailers too large' };
    }
    if (at < buf.length) this.carry = Buffer.from(buf.subarray(at));
    return more;
  }
}

/** The framing before one chunk of `length` bytes (never 0: that is the last chunk). */
export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

/** The last chunk and the trailer section (RFC 9112 §7.1.2). */
export function lastChunk(trailers?: readonly (readonly [string, string])[]): string {
  if (!trailers || trailers.length === 0) return '0\r\n\r\n';
  let s = '0\r\n';
  for (const [n, v] of trailers) s += `${n}: ${v}\r\n`;
  return `${s}\r\n`;
}
