// writeRequest(): one HTTP/1.1 request onto a kept upstream tunnel (h1-upstream-connection.ts): the
// head with the route's end-to-end fields (unwritable ones dropped, at most one valid length), then
// the body by its framing — a buffered (retriable) body in the same write, a known-empty one with
// nothing, a streamed one raw under its Content-Length or chunked, with backpressure. A body that
// overruns or falls short of the length written fails the exchange: the upstream would misread the
// rest as a next request (smuggling) or wait for bytes that never come.
import type { Duplex, Readable } from 'node:stream';
import { knownEmptyBody } from '../shared/http/h1-body-stream.js';
import { chunkHeader } from '../shared/http/h1-chunked.js';
import { isWritableField } from '../shared/http/h1-head.js';
import type { HeaderList } from './trace-headers.js';

export interface RequestToWrite {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderList;
}

export interface RequestWriteHooks {
  /** The exchange cannot go on (the body broke, or it does not match its length). */
  fail(): void;
  /** The whole request is on the wire. */
  sent(): void;
  /** The body was destroyed without an error (its client went away, a mirror over its limit). */
  closedEarly(): void;
}

const crlf = Buffer.from('\r\n', 'latin1');
const lastChunk = Buffer.from('0\r\n\r\n', 'latin1');
/** Methods whose empty body is still announced with `content-length: 0` (RFC 9110 §8.6). */
const bodyMethods = new Set(['POST', 'PUT', 'PATCH']);

/** Writes `r` and its body; returns how to stop listening to a streamed body, if one is being sent. */
export function writeRequest(stream: Duplex, r: RequestToWrite, body: Buffer | Readable, lastRequest: boolean, hooks: RequestWriteHooks): { detach(): void } | undefined {
  let head = `${r.method} ${r.path} HTTP/1.1\r\n`;
  let hasLength = false;
  let left = Infinity;
  const buffered = Buffer.isBuffer(body);
  for (const [n, v] of r.headers) {
    if (!isWritableField(n, v)) continue;
    if (n === 'content-length') {
      if (buffered || hasLength || !/^\d{1,15}$/.test(v)) continue;
      hasLength = true;
      left = Number(v);
    }
    head += `${n}: ${v}\r\n`;
  }
  if (lastRequest) head += 'connection: close\r\n';
  if (buffered) {
    if (body.length > 0 || bodyMethods.has(r.method)) head += `content-length: ${body.length}\r\n`;
    const out = Buffer.allocUnsafe(head.length + 2 + body.length);
    const at = out.write(`${head}\r\n`, 0, 'latin1');
    body.copy(out, at);
    stream.write(out);
    hooks.sent();
    return undefined;
  }
  if (knownEmptyBody(body)) {
    if (left !== Infinity && left !== 0) return void hooks.fail(); // a length no body will fill
    if (!hasLength && bodyMethods.has(r.method)) head += 'content-length: 0\r\n';
    stream.write(Buffer.from(`${head}\r\n`, 'latin1'));
    hooks.sent();
    body.resume(); // reaches 'end' for whoever counts it
    return undefined;
  }
  // A body already torn down (its client gone) can never be sent: the attempt fails now.
  if (body.destroyed) return void hooks.fail();
  const chunked = !hasLength;
  if (chunked) head += 'transfer-encoding: chunked\r\n';
  stream.write(Buffer.from(`${head}\r\n`, 'latin1'));
  const onData = (c: Buffer): void => {
    if ((left -= c.length) < 0) return hooks.fail();
    let ok: boolean;
    if (chunked) {
      if (c.length === 0) return;
      stream.cork();
      stream.write(Buffer.from(chunkHeader(c.length), 'latin1'));
      stream.write(c);
      ok = stream.write(crlf);
      stream.uncork();
    } else {
      ok = stream.write(c);
    }
    if (!ok) {
      body.pause();
      stream.once('drain', () => body.resume());
    }
  };
  const onEnd = (): void => {
    if (left !== Infinity && left > 0) return hooks.fail();
    detach();
    if (chunked) stream.write(lastChunk);
    hooks.sent();
  };
  const onError = (): void => hooks.fail();
  const onClose = (): void => hooks.closedEarly();
  const detach = (): void => {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
  };
  body.on('data', onData);
  body.once('end', onEnd);
  body.once('error', onError);
  body.once('close', onClose);
  body.resume(); // bodies arrive paused (h1-downstream.ts); this is their consumer
  return { detach };
}
