// ReplayBody: the request body of a retriable request, sent upstream as it arrives while a copy is
// kept for a retry — what Envoy's router does (it buffers a retriable request's body up to the
// buffer limit without holding the request back). Waiting for the whole body before the first
// attempt would deadlock every streaming exchange (a bidirectional gRPC call, a client that waits
// for the first response bytes before it ends its request). Each attempt reads the bytes kept so
// far, then the rest as it comes. Past the limit the copy is dropped once the current attempt has
// it: the body can no longer be replayed, and the request gets no retry (Envoy does the same).
import { PassThrough, type Readable } from 'node:stream';

const ignore = (): void => undefined;

export class ReplayBody {
  private readonly source: Readable;
  private readonly limit: number;
  private kept: Buffer[] = [];
  private keptBytes = 0;
  /** The copy went past the limit and was dropped. */
  private dropped = false;
  private ended = false;
  private broken = false;
  /** What the current attempt reads; undefined between attempts. */
  private current: PassThrough | undefined;

  private constructor(source: Readable, limit: number) {
    this.source = source;
    this.limit = limit;
    source.on('data', this.onData);
    source.once('end', this.onEnd);
    source.once('error', this.onGone);
    source.once('close', this.onGone);
    source.resume(); // bodies arrive paused (forwarder.ts, h1-downstream.ts)
  }

  /**
   * Starts reading `source`; resolves once it ended or the bytes already received were read (one
   * turn of the event loop), so a body that came with its head still goes as one buffer.
   */
  static open(source: Readable, limit: number): Promise<ReplayBody> {
    const body = new ReplayBody(source, limit);
    return new Promise((resolve) => {
      if (body.ended) return resolve(body);
      const t = setImmediate(() => {
        source.off('end', done);
        resolve(body);
      });
      function done(): void {
        clearImmediate(t);
        resolve(body);
      }
      source.once('end', done);
    });
  }

  /** Another attempt can be given the whole body (nothing dropped, the client did not go away). */
  get replayable(): boolean {
    return !this.dropped && !this.broken;
  }

  /**
   * The body for the next attempt: a buffer when all of it has arrived, else a stream of what came
   * so far followed by the rest. The previous attempt's stream is closed (its request is abandoned).
   */
  attemptBody(): Buffer | Readable {
    const previous = this.current;
    this.current = undefined;
    previous?.destroy();
    if (this.ended) return this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept);
    const view = new PassThrough({ highWaterMark: 64 * 1024 });
    view.on('error', ignore);
    view.on('drain', () => {
      if (this.current === view) this.source.resume();
    });
    for (const c of this.kept) view.write(c);
    this.current = view;
    if (this.broken) view.destroy();
    else this.dropCopyPastLimit();
    this.source.resume();
    return view;
  }

  private readonly onData = (chunk: Buffer): void => {
    const view = this.current;
    if (!this.dropped) {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
    }
    if (view) {
      if (!view.write(chunk)) this.source.pause();
      this.dropCopyPastLimit();
    } else if (this.keptBytes > this.limit) {
      this.source.pause(); // no attempt reads it now: hold the client rather than drop bytes
    }
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.current?.end();
  };

  private readonly onGone = (): void => {
    if (this.ended) return;
    this.broken = true;
    this.current?.destroy();
  };

  /** Over the limit, and the current attempt has every byte: the copy goes. */
  private dropCopyPastLimit(): void {
    if (this.keptBytes <= this.limit || !this.current) return;
    this.dropped = true;
    this.kept = [];
    this.keptBytes = 0;
  }
}
