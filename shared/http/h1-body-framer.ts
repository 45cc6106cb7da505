// BodyFramer: one HTTP/1.1 message body, fed into its BodyStream as bytes arrive, by the framing
// the head parser decided (RFC 9112 §6.3): a Content-Length, the chunked coding (h1-chunked.ts),
// or, for a response only, everything until the connection closes. Both sides of the waypoint
// use it (waypoint/h1-downstream.ts for requests, waypoint/h1-upstream-connection.ts for responses).
import type { BodyStream } from './h1-body-stream.js';
import { ChunkedDecoder, type ChunkedStep } from './h1-chunked.js';
import type { H1Framing } from './h1-head.js';

const more = { kind: 'more' } as const;
const noTrailers: [string, string][] = [];

export class BodyFramer {
  private readonly body: BodyStream;
  private readonly chunked: ChunkedDecoder | undefined;
  /** The body ends only when the connection does (a response without length or chunking). */
  readonly untilClose: boolean;
  private remaining: number;
  private readonly onData = (d: Buffer): void => this.body.feed(d);

  constructor(framing: H1Framing, body: BodyStream) {
    this.body = body;
    this.chunked = framing.kind === 'chunked' ? new ChunkedDecoder() : undefined;
    this.untilClose = framing.kind === 'close';
    this.remaining = framing.kind === 'length' ? framing.length : 0;
  }

  /**
   * Feeds `chunk`'s body bytes: `more` until the body's end, then `done` with the trailers and
   * the bytes after it (the next message's), or `error` for broken chunk framing.
   */
  push(chunk: Buffer): ChunkedStep {
    if (this.untilClose) {
      this.body.feed(chunk);
      return more;
    }
    if (this.chunked) return this.chunked.push(chunk, this.onData);
    const n = Math.min(this.remaining, chunk.length);
    if (n > 0) this.body.feed(n === chunk.length ? chunk : chunk.subarray(0, n));
    this.remaining -= n;
    if (this.remaining > 0) return more;
    return { kind: 'done', trailers: noTrailers, rest: n === chunk.length ? emptyRest : chunk.subarray(n) };
  }
}

const emptyRest = Buffer.alloc(0);
