// relay(): copies bytes both ways between an HBONE stream and a TCP socket (or any two duplexes)
// with backpressure, FIN <-> END_STREAM half-close, and resets mapped across: a TCP error resets
// the stream with CONNECT_ERROR (RFC 9113 §8.5), a stream reset RSTs the socket.
// Each direction is a 'data' listener and write(), as pipe() does, with two differences measured
// on the HBONE hop (bench/README.md): the source is paused only once `maxQueuedBytes` wait in the
// destination (pipe() pauses at the destination's 16 KiB highWaterMark, i.e. after every 64 KiB
// socket read, costing a readStop/readStart pair of epoll_ctl calls per read), and large chunks
// into a TCP socket are written in one writev per event-loop turn (an HTTP/2 stream delivers two
// chunks per TLS record, as 16 KiB DATA frames straddle 16 KiB records). pipeline() is not used:
// it allocates per call and halved proxy rates here.
import { constants as h2c, type Http2Stream } from 'node:http2';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export const RelayEnd = {
  /** Both directions finished with FIN/END_STREAM. */
  Completed: 'completed',
  /** The stream side was reset or errored. */
  StreamReset: 'stream_reset',
  /** The socket side errored or was reset. */
  SocketReset: 'socket_reset',
  /** relay's caller aborted it. */
  Aborted: 'aborted',
} as const;
export type RelayEnd = (typeof RelayEnd)[keyof typeof RelayEnd];

/**
 * Bytes one direction lets wait in its destination before it pauses its source: with the HTTP/2
 * flow-control window this bounds what a tunnel buffers per direction.
 */
export const maxQueuedBytes = 256 * 1024;
/** A chunk at least this large into a TCP socket starts a write batch for the rest of this event-loop turn. */
const batchMinBytes = 4096;

export interface RelayResult {
  readonly end: RelayEnd;
  /** Bytes read from `a` and written to `b`. */
  readonly bytesAtoB: number;
  readonly bytesBtoA: number;
  readonly error?: Error;
}

function isHttp2Stream(d: Duplex): d is Http2Stream {
  return 'rstCode' in d;
}

function reset(d: Duplex): void {
  if (d.destroyed) return;
  if (isHttp2Stream(d)) {
    // Node's close(code) first ends the writable side, which puts END_STREAM on the wire before
    // the RST_STREAM: the peer reads a clean end (a FIN for its client) and only then the reset,
    // so a broken connection looks complete. Marking the writable side as ending skips that
    // END_STREAM (Node 20's closeStream() checks exactly this flag); only the reset is sent.
    const writable = (d as unknown as { _writableState?: { ending: boolean } })._writableState;
    if (writable && !writable.ending) writable.ending = true;
    d.close(h2c.NGHTTP2_CONNECT_ERROR);
  } else if (typeof (d as Socket).resetAndDestroy === 'function' && (d as Socket).readyState !== 'opening') {
    (d as Socket).resetAndDestroy();
  } else {
    d.destroy();
  }
}

/**
 * Relays until both directions end or either side fails; resolves once, never rejects.
 * `a` and `b` must allow half-open (net sockets need `allowHalfOpen: true`).
 */
export function relay(a: Duplex, b: Duplex, signal?: AbortSignal): Promise<RelayResult> {
  return new Promise((resolve) => {
    let aEnded = false;
    let bEnded = false;
    let done = false;
    // With a TCP socket on either side its own counters tell both directions, so nothing is
    // counted per chunk on the hot path.
    const socketA = plainSocket(a);
    const socketB = socketA ? undefined : plainSocket(b);
    const counted = !socketA && !socketB;
    const aToB = new Direction(a, b, counted);
    const bToA = new Direction(b, a, counted);

    const finish = (end: RelayEnd, error?: Error): void => {
      if (done) return;
      done = true;
      let bytesAtoB = aToB.bytes;
      let bytesBtoA = bToA.bytes;
      if (socketA) {
        bytesAtoB = socketA.bytesRead;
        bytesBtoA = socketA.bytesWritten;
      } else if (socketB) {
        bytesAtoB = socketB.bytesWritten;
        bytesBtoA = socketB.bytesRead;
      }
      aToB.stop();
      bToA.stop();
      a.off('end', onAEnd);
      b.off('end', onBEnd);
      a.off('error', onAError);
      b.off('error', onBError);
      a.off('close', onAClose);
      b.off('close', onBClose);
      signal?.removeEventListener('abort', onAbort);
      // Keep a no-op error listener: late errors from a side being torn down must not crash.
      a.on('error', ignore);
      b.on('error', ignore);
      resolve(error ? { end, bytesAtoB, bytesBtoA, error } : { end, bytesAtoB, bytesBtoA });
    };
    const checkComplete = (): void => {
      // Each side is done when it has delivered its end and the other side has flushed its own.
      if (aEnded && bEnded && a.writableFinished && b.writableFinished) {
        finish(RelayEnd.Completed);
        // An HTTP/2 stream that ended both ways closes by itself; destroying it would send a
        // RST_STREAM, and nghttp2 punishes a peer's resets past 1000 with GOAWAY for the session.
        if (!isHttp2Stream(a)) a.destroy();
        if (!isHttp2Stream(b)) b.destroy();
      }
    };
    const onAEnd = (): void => { aEnded = true; b.once('finish', checkComplete); checkComplete(); };
    const onBEnd = (): void => { bEnded = true; a.once('finish', checkComplete); checkComplete(); };
    const fail = (side: Duplex, end: RelayEnd) => (err?: Error): void => {
      if (done) return;
      finish(end, err);
      reset(side === a ? b : a);
      side.destroy();
    };
    const onAError = (err: Error): void => fail(a, sideEnd(a))(err);
    const onBError = (err: Error): void => fail(b, sideEnd(b))(err);
    const onAClose = (): void => { if (!(aEnded && a.writableFinished)) fail(a, sideEnd(a))(); };
    const onBClose = (): void => { if (!(bEnded && b.writableFinished)) fail(b, sideEnd(b))(); };
    const onAbort = (): void => {
      if (done) return;
      finish(RelayEnd.Aborted);
      reset(a);
      reset(b);
    };

    a.on('end', onAEnd);
    b.on('end', onBEnd);
    a.on('error', onAError);
    b.on('error', onBError);
    a.on('close', onAClose);
    b.on('close', onBClose);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    aToB.start();
    bToA.start();
  });
}

/**
 * One direction: every chunk read from `src` is written to `dst`; `src` pauses once
 * `maxQueuedBytes` wait in `dst` and resumes on its 'drain'; `src`'s end ends `dst`.
 */
class Direction {
  bytes = 0;
  private readonly src: Duplex;
  private readonly dst: Duplex;
  private readonly count: boolean;
  /** Batch writes only into TCP sockets: an HTTP/2 stream batches in nghttp2 already. */
  private readonly batch: boolean;
  private corked = false;
  private waiting = false;
  // Made on first use: most tunnels never fill their destination or carry a large chunk, and
  // each closure is kept for the tunnel's life (two directions per tunnel, 10,000s of tunnels).
  private onDrain: (() => void) | undefined;
  private flush: (() => void) | undefined;

  constructor(src: Duplex, dst: Duplex, count: boolean) {
    this.src = src;
    this.dst = dst;
    this.count = count;
    this.batch = dst instanceof Socket && !isHttp2Stream(dst);
  }

  start(): void {
    this.src.on('data', this.onData);
    this.src.once('end', this.onEnd);
    // tunnelToHbone() pauses the socket until the CONNECT is answered; a listener alone does not
    // resume a stream that was paused explicitly.
    this.src.resume();
  }

  stop(): void {
    this.src.off('data', this.onData);
    this.src.off('end', this.onEnd);
    if (this.onDrain) this.dst.off('drain', this.onDrain);
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.count) this.bytes += chunk.length;
    const dst = this.dst;
    if (this.batch && !this.corked && chunk.length >= batchMinBytes) {
      this.corked = true;
      dst.cork();
      setImmediate(this.flush ??= (): void => {
        this.corked = false;
        if (!this.dst.destroyed) this.dst.uncork();
      });
    }
    // write() returning false means `dst` reached its highWaterMark and will emit 'drain' once empty.
    if (!dst.write(chunk) && !this.waiting && dst.writableLength >= maxQueuedBytes) {
      this.waiting = true;
      this.src.pause();
      dst.once('drain', this.onDrain ??= (): void => {
        this.waiting = false;
        this.src.resume();
      });
    }
  };

  private readonly onEnd = (): void => {
    this.dst.end();
  };
}

function plainSocket(d: Duplex): Socket | undefined {
  return d instanceof Socket && !('encrypted' in d) ? d : undefined;
}

function sideEnd(d: Duplex): RelayEnd {
  return isHttp2Stream(d) ? RelayEnd.StreamReset : RelayEnd.SocketReset;
}

function ignore(): void {}
