// BodyStream: one HTTP/1.1 message body as a Readable, fed by a connection's parser (h1-head.ts,
// h1-chunked.ts). Backpressure reaches the connection: when the reader falls behind, the
// connection is asked to pause its source, and to resume once the reader wants more.
import { Readable } from 'node:stream';

export interface BodySource {
  pauseBody(): void;
  resumeBody(): void;
}

export class BodyStream extends Readable {
  private readonly source: BodySource;
  /** Bytes of body the framing promised (`length` framing), else undefined. */
  readonly declaredLength: number | undefined;
  private finished = false;

  constructor(source: BodySource, declaredLength?: number) {
    super({ highWaterMark: 64 * 1024 });
    this.source = source;
    this.declaredLength = declaredLength;
    // A body is destroyed with an error when its peer breaks off mid-message, possibly before any
    // consumer is attached (the upstream still connecting, a response drained for a retry): that
    // must not become an uncaught 'error' that takes the process down. Consumers still see it.
    this.on('error', ignoreError);
  }

  /** The whole body is already known to be empty (nothing to copy, only to end). */
  get empty(): boolean {
    return this.declaredLength === 0;
  }

  /** All body bytes were fed (the framing's end was seen). */
  get complete(): boolean {
    return this.finished;
  }

  override _read(): void {
    this.source.resumeBody();
  }

  feed(chunk: Buffer): void {
    if (chunk.length > 0 && !this.push(chunk)) this.source.pauseBody();
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.push(null);
  }
}

function ignoreError(): void {}

/** A request body known to be empty before reading it: ours, or an HTTP/2 stream that ended with its headers. */
export function knownEmptyBody(body: Readable): boolean {
  if (body instanceof BodyStream) return body.empty;
  return (body as { endAfterHeaders?: boolean }).endAfterHeaders === true;
}
