// Writing HTTP/1.1 responses on a tunnel stream (the waypoint's server side, h1-downstream.ts):
// local replies in one buffer, relayed heads with the proxy's own framing fields, chunk framing,
// and the tunnel reset for a response that cannot be completed. Only Buffers are written to the
// HTTP/2 stream: Node 20's Http2Stream garbles latin1 strings in a writev
// (shared/net/stream-adapter.ts).
import { STATUS_CODES } from 'node:http';
import { constants as http2Constants } from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import { BodyStream } from '../shared/http/h1-body-stream.js';
import { chunkHeader, lastChunk } from '../shared/http/h1-chunked.js';
import { isWritableField } from '../shared/http/h1-head.js';
import type { HeaderList } from './trace-headers.js';

/** Headers the proxy writes itself on the downstream response. */
const framingHeaders = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);
/** A first body chunk up to this size goes out in the same write as the head. */
const smallFirstWrite = 16 * 1024;
export const continueLine = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const crlf = Buffer.from('\r\n', 'latin1');

let dateSecond = 0;
let dateText = '';
/** `Date` for local replies, formatted once per second. */
function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

const statusLine = (status: number): string => `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;

/** A complete local answer as one buffer (no body bytes for HEAD); `connection` is a header line or ''. */
export function localReply(status: number, text: string, extra: HeaderList, connection: string, head: boolean): { bytes: Buffer; bodyLength: number } {
  const body = Buffer.from(text);
  let s = `${statusLine(status)}content-length: ${body.length}\r\ndate: ${httpDate()}\r\n`;
  if (text && !extra.some(([n]) => n === 'content-type')) s += 'content-type: text/plain\r\n';
  // A field a route filter made unwritable (CR/LF) is dropped, never written raw.
  for (const [n, v] of extra) if (isWritableField(n, v)) s += `${n}: ${v}\r\n`;
  s += `${connection}\r\n`;
  const out = Buffer.allocUnsafe(Buffer.byteLength(s, 'latin1') + (head ? 0 : body.length));
  const at = out.write(s, 0, 'latin1');
  if (!head) body.copy(out, at);
  return { bytes: out, bodyLength: body.length };
}

export interface ResponseHead {
  /** Status line and fields, without the connection field and the blank line. */
  readonly head: string;
  /** The one Content-Length written, if any. */
  readonly length?: number;
  readonly chunked: boolean;
  /** An HTTP/1.0 client's body of unknown length: it ends when the connection does. */
  readonly closeDelimited: boolean;
}

/**
 * The head of a relayed response: the upstream's end-to-end fields (unwritable ones dropped, at
 * most one valid Content-Length), and chunked for an HTTP/1.1 client when the length is unknown.
 */
export function responseHead(status: number, list: HeaderList, opts: { readonly bodiless: boolean; readonly http10: boolean }): ResponseHead {
  let length: number | undefined;
  let head = statusLine(status);
  for (const [n, v] of list) {
    if (!isWritableField(n, v)) continue;
    if (framingHeaders.has(n)) {
      if (n !== 'content-length' || length !== undefined || !/^\d{1,15}$/.test(v)) continue;
      length = Number(v);
    }
    head += `${n}: ${v}\r\n`;
  }
  const unknown = !opts.bodiless && length === undefined;
  const chunked = unknown && !opts.http10;
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  return { head, ...(length !== undefined ? { length } : {}), chunked, closeDelimited: unknown && opts.http10 };
}

/** Writes one body chunk, chunk-framed or raw; false when the stream wants a 'drain'. */
export function writeBodyChunk(stream: Duplex, c: Buffer, chunked: boolean): boolean {
  if (!chunked) return stream.write(c);
  stream.cork();
  stream.write(Buffer.from(chunkHeader(c.length), 'latin1'));
  stream.write(c);
  const ok = stream.write(crlf);
  stream.uncork();
  return ok;
}

/** The head, and the body bytes already there, in one write when they are small (one DATA frame). */
export function writeHeadAndFirst(stream: Duplex, head: string, first: Buffer | null, chunked: boolean): void {
  if (first && first.length <= smallFirstWrite) {
    const prefix = chunked ? `${head}${chunkHeader(first.length)}` : head;
    const out = Buffer.allocUnsafe(prefix.length + first.length + (chunked ? 2 : 0));
    let at = out.write(prefix, 0, 'latin1');
    at += first.copy(out, at);
    if (chunked) out.write('\r\n', at, 'latin1');
    stream.write(out);
  } else {
    stream.write(Buffer.from(head, 'latin1'));
    if (first) writeBodyChunk(stream, first, chunked);
  }
}

/** How pumping a body ended: all of it; more or less than its length; the source broke; the tunnel closed. */
export type PumpEnd = 'ended' | 'overrun' | 'short' | 'failed' | 'closed';

/**
 * Copies `body` to `stream` with backpressure until it ends, checking it against the length
 * written (`left` bytes still promised, Infinity when none): more or fewer bytes would desync the
 * client's next response. A bodiless response (HEAD, 204, 304) only drains `body`.
 */
export function pumpBody(stream: Duplex, body: Readable, opts: { readonly chunked: boolean; readonly bodiless: boolean; readonly left: number }): Promise<{ bytes: number; end: PumpEnd }> {
  let left = opts.left;
  let bytes = 0;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (end: PumpEnd): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      if (end === 'overrun' || end === 'closed') body.destroy();
      resolve({ bytes, end });
    };
    const onData = (c: Buffer): void => {
      if (opts.bodiless) return;
      if ((left -= c.length) < 0) return settle('overrun');
      bytes += c.length;
      if (!writeBodyChunk(stream, c, opts.chunked)) {
        body.pause();
        stream.once('drain', onDrain);
      }
    };
    const onDrain = (): void => void body.resume();
    const onClose = (): void => settle('closed');
    body.on('data', onData);
    body.once('end', () => settle(left !== Infinity && left > 0 ? 'short' : 'ended'));
    body.once('error', () => settle('failed'));
    stream.once('close', onClose);
  });
}

export interface RelayedBody {
  readonly chunked: boolean;
  readonly bodiless: boolean;
  /** The one Content-Length written, if any. */
  readonly length?: number;
  /** Trailers for the last chunk, read once the body ended. */
  trailers(): HeaderList | undefined;
}

/**
 * Writes a relayed response: `head` (complete, blank line included), then `body` checked against
 * the length written, then the last chunk. Synchronous when the whole body is already buffered (a
 * small response in one read, the common case: head and body in one write, no pump, listeners or
 * promise of its own); otherwise pumped with backpressure.
 */
export function sendRelayed(stream: Duplex, head: string, body: Readable, o: RelayedBody): { bytes: number; end: PumpEnd } | Promise<{ bytes: number; end: PumpEnd }> {
  const first = o.bodiless ? null : (body.read() as Buffer | null);
  // The body must match the length written (a route filter may have set another): more or fewer
  // bytes would desync the client's next response, so the caller resets the connection instead.
  let left = o.bodiless || o.length === undefined ? Infinity : o.length;
  if (first && (left -= first.length) < 0) {
    body.destroy();
    return { bytes: 0, end: 'overrun' };
  }
  const lastChunkOf = (): void => void (o.chunked && stream.write(Buffer.from(lastChunk(o.trailers()), 'latin1')));
  if (body instanceof BodyStream && body.complete && body.readableLength === 0) {
    if (left !== Infinity && left > 0) return { bytes: 0, end: 'short' };
    writeHeadAndFirst(stream, head, first, o.chunked);
    lastChunkOf();
    return { bytes: first?.length ?? 0, end: 'ended' };
  }
  writeHeadAndFirst(stream, head, first, o.chunked);
  return pumpBody(stream, body, { chunked: o.chunked, bodiless: o.bodiless, left }).then((r) => {
    if (r.end === 'ended') lastChunkOf();
    return { bytes: (first?.length ?? 0) + r.bytes, end: r.end };
  });
}

/**
 * Resets the tunnel with RST_STREAM(CONNECT_ERROR), which the client's ztunnel turns into a TCP
 * reset (RFC 9113 §8.5). Node's close() would first put END_STREAM on the wire if our side is
 * still open, and the client would read a clean end; marking the side as ending skips it (as
 * shared/net/relay.ts does).
 */
export function resetTunnel(stream: Duplex): void {
  if (stream.destroyed) return;
  const h2 = stream as Duplex & { close?: (code: number) => void; rstCode?: number };
  if (typeof h2.close !== 'function' || !('rstCode' in h2)) return void stream.destroy();
  const writable = (stream as unknown as { _writableState?: { ending: boolean } })._writableState;
  if (writable && !writable.ending) writable.ending = true;
  h2.close(http2Constants.NGHTTP2_CONNECT_ERROR);
}
