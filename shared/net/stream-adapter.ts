// StreamAdapter: a plain Duplex over an HBONE tunnel stream (an HTTP/2 stream), so that node's
// http2 sessions (the waypoint's HTTP/2 and gRPC, both sides) and node:http can run inside it.
// Two Node 20 behaviours make the adapter necessary: node:http writes a corked response as a
// writev whose first chunk is a latin1 string, and an Http2Stream given such a writev sends garbage
// in place of that chunk (the status line); and node:http and http2 call socket methods
// (setKeepAlive, ref/unref, setNoDelay) an Http2Stream lacks. Buffers go through as they are;
// strings are encoded here before they reach the HTTP/2 stream.
import { Duplex } from 'node:stream';

const ignore = (): void => undefined;

type Inner = Duplex & { readonly rstCode?: number; close?: (code?: number) => void };

export class StreamAdapter extends Duplex {
  readonly inner: Inner;
  /** The tunnel's peer, for node:http's `req.socket.remoteAddress` (set by the owner). */
  remoteAddress: string | undefined;
  remotePort: number | undefined;

  constructor(inner: Inner, peer?: { address?: string; port?: number }) {
    // Not half-open: HTTP peers end connections as a whole. A kept-alive tunnel whose server side
    // ended must close (node:http's Agent drops free sockets on 'close'), never be reused half-dead.
    super({ allowHalfOpen: false });
    this.inner = inner;
    this.remoteAddress = peer?.address;
    this.remotePort = peer?.port;
    inner.on('data', this.onData);
    inner.once('end', this.onEnd);
    inner.on('error', this.onError);
    inner.once('close', this.onClose);
    inner.on('timeout', this.onTimeout);
  }

  private readonly onTimeout = (): void => {
    this.emit('timeout');
  };

  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.inner.pause();
  };

  private readonly onEnd = (): void => {
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.destroy(err);
  };

  private readonly onClose = (): void => {
    // The tunnel went away under us (reset, session lost): node:http sees a closed socket.
    if (!this.destroyed) this.destroy();
  };

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.inner.write(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk, cb);
  }

  override _writev(chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    const buffers = chunks.map((c) => (typeof c.chunk === 'string' ? Buffer.from(c.chunk, c.encoding) : c.chunk));
    this.inner.write(buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers), cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.inner.off('data', this.onData);
    this.inner.off('error', this.onError);
    this.inner.on('error', ignore); // late errors of a tunnel we are done with
    this.inner.off('timeout', this.onTimeout);
    if (!this.inner.destroyed) {
      // An error ends the tunnel with RST_STREAM; a clean destroy closes it normally.
      if (err && this.inner.close) this.inner.close(0x8 /* CANCEL */);
      else this.inner.destroy();
    }
    cb(err);
  }

  // node:http calls these on its sockets; an HTTP/2 stream has its own keepalive (PING) and timers.
  setKeepAlive(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  /** Idle timeout of the tunnel stream, reported as this socket's 'timeout' (node:http listens there). */
  setTimeout(ms: number, cb?: () => void): this {
    if (cb) this.once('timeout', cb);
    (this.inner as Duplex & { setTimeout?: (ms: number) => unknown }).setTimeout?.(ms);
    return this;
  }
}
