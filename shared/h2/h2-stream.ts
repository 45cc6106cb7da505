// H2Stream: one stream of a lean H2Session, as a byte duplex with the surface relay() uses
// ('data' / 'end' / 'finish' / 'drain' / 'close' events, write, end, pause, resume, close(code)).
// It is a small EventEmitter, not a stream.Duplex: a tunnel holds ~0.5 KB here where Node's
// Http2Stream, its Readable/Writable states and nghttp2's stream cost ~3.5 KB (bench/README.md).
import { EventEmitter } from 'node:events';
import { H2Code } from './frames.js';
import { HeldData } from './held-data.js';

/** What a stream needs from its session. */
export interface H2StreamOwner {
  readonly destroyed: boolean;
  /** Sends what the windows allow of the stream's queue (and END_STREAM once it is empty). */
  flushStream(stream: H2Stream): void;
  /** Returns `bytes` of the stream's receive window to the peer (WINDOW_UPDATE when worth it). */
  consumed(stream: H2Stream, bytes: number): void;
  sendReset(stream: H2Stream, code: number): void;
  streamClosed(stream: H2Stream): void;
  respond(stream: H2Stream, status: number, endStream: boolean): void;
  /** Bytes held for a paused consumer changed by `delta` (the session bounds their sum). */
  heldChanged(stream: H2Stream, delta: number): void;
}

/** Bytes queued in a stream before write() asks its caller to wait for 'drain'. */
const highWaterBytes = 64 * 1024;

export type H2Headers = Record<string, string | undefined>;

export class H2Stream extends EventEmitter {
  readonly id: number;
  /** The RST_STREAM code it ended with (NO_ERROR when it ended cleanly); undefined while open. */
  rstCode: number | undefined = undefined;
  destroyed = false;
  /** Server side: the response sent (its `:status`), like Node's `sentHeaders`. */
  sentHeaders: { ':status': number } | undefined = undefined;
  /** Bytes the peer lets us send on this stream (RFC 9113 §6.9). */
  sendWindow: number;
  /** Queued outgoing data (windows exhausted), oldest first. */
  queue: Buffer[] | undefined = undefined;
  queuedBytes = 0;
  /** end() was called: END_STREAM goes out once the queue is empty. */
  endQueued = false;
  /** END_STREAM was sent. */
  writableFinished = false;
  /** END_STREAM was received (and delivered: 'end' emitted). */
  remoteEnded = false;
  /** Receive window left for the peer (checked against each DATA frame). */
  recvWindow: number;
  /** Delivered bytes not yet given back to the peer with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** END_STREAM arrived (it may still be held for a paused consumer). */
  endReceived = false;
  /** Client side: the final response arrived. */
  responded = false;
  private readonly owner: H2StreamOwner;
  // Paused until a consumer attaches a 'data' listener or calls resume(), like a Readable nobody
  // reads yet: what arrives before the relay attaches is held, not lost. An explicit pause()
  // keeps it paused when a 'data' listener comes later (Readable's flowing = false).
  private paused = true;
  private explicitlyPaused = false;
  private held: HeldData | undefined = undefined;
  private heldEnd = false;
  private needDrain = false;
  /** resume() ran: what was held is delivered on the next tick (a Readable's resume is async too). */
  private flushScheduled = false;
  private closeScheduled = false;
  private waiter: { readonly ok: (headers: H2Headers) => void; readonly fail: (err: Error) => void } | undefined;
  /** Reset with NO_ERROR after the peer's END_STREAM: held data and 'end' are still delivered, then 'close'. */
  private closeAfterEnd = false;

  constructor(owner: H2StreamOwner, id: number, sendWindow: number, recvWindow: number) {
    super();
    this.owner = owner;
    this.id = id;
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** The session it belongs to (Node's `stream.session`). */
  get session(): H2StreamOwner {
    return this.owner;
  }

  /** Closed either way (Node's `stream.closed`). */
  get closed(): boolean {
    return this.destroyed;
  }

  get writable(): boolean {
    return !this.destroyed && !this.endQueued;
  }

  get readable(): boolean {
    return (!this.destroyed || this.closeAfterEnd) && !this.remoteEnded;
  }

  get headersSent(): boolean {
    return this.sentHeaders !== undefined;
  }

  get writableLength(): number {
    return this.queuedBytes;
  }

  get readableEnded(): boolean {
    return this.remoteEnded;
  }

  write(data: Buffer | Uint8Array | string): boolean {
    const chunk = Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.destroyed || this.endQueued || chunk.length === 0) return !this.destroyed;
    if (this.queue === undefined) this.queue = [chunk];
    else this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    this.owner.flushStream(this);
    if (this.queuedBytes < highWaterBytes) return true;
    this.needDrain = true;
    return false;
  }

  end(chunk?: Buffer | Uint8Array | string): this {
    if (chunk) this.write(chunk);
    if (this.destroyed || this.endQueued) return this;
    this.endQueued = true;
    this.owner.flushStream(this);
    return this;
  }

  /** Server side: the CONNECT's answer (Node's `respond()` shape; only `:status` is sent). */
  respond(headers: { readonly ':status': number }, options?: { readonly endStream?: boolean }): void {
    if (this.destroyed || this.sentHeaders) return;
    const status = headers[':status'];
    const endStream = options?.endStream === true;
    this.sentHeaders = { ':status': status };
    if (endStream) {
      this.endQueued = true;
      this.writableFinished = true;
    }
    this.owner.respond(this, status, endStream);
    // A complete answer before the request ended: RST_STREAM(NO_ERROR) asks the client to stop
    // sending (RFC 9113 §8.1) and closes the stream.
    if (endStream) {
      if (this.remoteEnded) this.maybeClose();
      else this.close(H2Code.NoError);
    }
  }

  // Like Readable, which aliases addListener to on: a 'data' listener starts the flow however it
  // is attached (once() goes through on()).
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'data' && this.paused && !this.explicitlyPaused) this.resume();
    return this;
  }

  /**
   * Client: `ok` gets the final response, `fail` an error if the stream ends first. Without a
   * waiter the response is a 'response' event (callbacks leave no listener entries behind).
   */
  awaitResponse(ok: (headers: H2Headers) => void, fail: (err: Error) => void): void {
    this.waiter = { ok, fail };
  }

  cancelResponseWait(): void {
    this.waiter = undefined;
  }

  /** The session's side: the final response arrived. */
  gotResponse(headers: H2Headers): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.ok(headers);
    else this.emit('response', headers);
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }

  pause(): this {
    this.paused = true;
    this.explicitlyPaused = true;
    return this;
  }

  resume(): this {
    this.explicitlyPaused = false;
    if (!this.paused) return this;
    this.paused = false;
    // Held data and 'end' go out on the next tick, as a Readable's: a caller attaching 'data' then
    // 'end' listeners in one go must see both (delivering inside on('data') lost the 'end').
    if ((this.held !== undefined || this.heldEnd) && !this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushHeld, this);
    }
    return this;
  }

  /** Delivers what was held while paused, in order (the consumer may pause again meanwhile). */
  flushHeld(): void {
    this.flushScheduled = false;
    if (this.paused) return;
    const held = this.held;
    this.held = undefined;
    if (held) {
      this.owner.heldChanged(this, -held.bytes);
      // A consumer may pause again while this runs: the rest is held again, in order.
      for (const chunk of held.take()) {
        if (this.destroyed && !this.closeAfterEnd) break;
        this.receive(chunk); // held again if the consumer paused (or re-held something before it)
      }
    }
    if (this.heldEnd && (!this.destroyed || this.closeAfterEnd) && !this.paused && this.held === undefined) this.deliverEnd();
  }

  isPaused(): boolean {
    return this.paused;
  }

  /** Resets the stream with `code` (queued data is dropped), as Node's Http2Stream.close(code). */
  close(code: number = H2Code.NoError): void {
    if (this.closeAfterEnd) {
      // The consumer gives up on the rest of a completed response.
      this.closeAfterEnd = false;
      this.dropHeld();
      this.scheduleClose();
    }
    if (this.destroyed) return;
    this.owner.sendReset(this, code);
    this.terminate(code);
  }

  /** Like close(CANCEL) (Node's Http2Stream.destroy()). */
  destroy(): this {
    this.close(H2Code.Cancel);
    return this;
  }

  cork(): void {}
  uncork(): void {}

  // The session's side.

  /** Payload bytes from the peer. */
  receive(chunk: Buffer): void {
    if (this.paused || this.held !== undefined) {
      (this.held ??= new HeldData()).push(chunk);
      this.owner.heldChanged(this, chunk.length);
      return;
    }
    this.deliver(chunk);
  }

  receiveEnd(): void {
    if (this.paused || this.held !== undefined) {
      this.heldEnd = true;
      return;
    }
    this.deliverEnd();
  }

  /** The queue drained below the mark after a write() returned false. */
  drained(): void {
    if (this.needDrain && this.queuedBytes < highWaterBytes) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  /** END_STREAM went out. */
  finished(): void {
    this.writableFinished = true;
    this.emit('finish');
    this.maybeClose();
  }

  /** Ends the stream without sending anything (peer reset, session gone). */
  terminate(code: number): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.rstCode = code;
    this.queue = undefined;
    this.queuedBytes = 0;
    // RFC 9113 §8.1: a RST_STREAM(NO_ERROR) after a complete response only asks us to stop
    // sending; the response must not be discarded, even the part a paused consumer has not read.
    this.closeAfterEnd = code === H2Code.NoError && this.heldEnd;
    if (!this.closeAfterEnd) this.dropHeld();
    this.owner.streamClosed(this);
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter.fail(new Error(`stream closed (code ${code})`));
    if (code !== H2Code.NoError && code !== H2Code.Cancel && this.listenerCount('error') > 0) {
      const err = new Error(`stream closed with error code ${code}`) as Error & { code?: string };
      err.code = 'ERR_HTTP2_STREAM_ERROR';
      this.emit('error', err);
    }
    if (!this.closeAfterEnd) this.scheduleClose();
  }

  private dropHeld(): void {
    this.heldEnd = false;
    if (this.held === undefined) return;
    const bytes = this.held.bytes;
    this.held = undefined;
    this.owner.heldChanged(this, -bytes);
  }

  private deliver(chunk: Buffer): void {
    this.emit('data', chunk);
    this.owner.consumed(this, chunk.length);
  }

  private deliverEnd(): void {
    this.heldEnd = false;
    if (this.remoteEnded) return;
    this.remoteEnded = true;
    this.emit('end');
    if (this.closeAfterEnd) {
      this.closeAfterEnd = false;
      this.scheduleClose();
    }
    this.maybeClose();
  }

  /** Both ways ended: the stream is closed (RFC 9113 §5.1) and leaves its session. */
  private maybeClose(): void {
    if (this.destroyed || !this.remoteEnded || !this.writableFinished) return;
    this.destroyed = true;
    this.rstCode = H2Code.NoError;
    this.owner.streamClosed(this);
    this.scheduleClose();
  }

  private scheduleClose(): void {
    if (this.closeScheduled) return;
    this.closeScheduled = true;
    process.nextTick(emitClose, this);
  }
}

function flushHeld(stream: H2Stream): void {
  stream.flushHeld();
}

function emitClose(stream: H2Stream): void {
  stream.emit('close');
}
