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
import type { H2Stream } from '../h2/h2-stream.js';

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

/** Either end of a relay: a socket, a Node stream, or a lean HBONE stream (shared/h2). */
export type RelaySide = Duplex | H2Stream;

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

/** The relay a duplex is part of, so one module-level listener per event serves every tunnel. */
const kRelay = Symbol('ambit.relay');
type Side = Duplex & { [kRelay]?: Relay | undefined };

// Listeners shared by all relays (`this` is the emitting side): a relay of 10,000s of idle tunnels
// would otherwise keep a dozen closures and their context per tunnel (~1 KB each).
function onSideData(this: Side, chunk: Buffer): void {
  const r = this[kRelay];
  if (r) (this === r.a ? r.aToB : r.bToA).onData(chunk);
}
function onSideEnd(this: Side): void {
  this[kRelay]?.sideEnded(this);
}
function onSideError(this: Side, err: Error): void {
  this[kRelay]?.sideFailed(this, err);
}
function onSideClose(this: Side): void {
  this[kRelay]?.sideClosed(this);
}
function onSideFinish(this: Side): void {
  this[kRelay]?.checkComplete();
}

/**
 * Relays until both directions end or either side fails; resolves once, never rejects.
 * `a` and `b` must allow half-open (net sockets need `allowHalfOpen: true`).
 */
export function relay(a: RelaySide, b: RelaySide, signal?: AbortSignal): Promise<RelayResult> {
  return new Promise((resolve) => relayThen(a, b, resolve, signal));
}

/**
 * relay() with a callback instead of a promise: a proxy's tunnels that only record their end need
 * no Promise, reaction and resolve function each (~0.2 KB per open tunnel).
 */
export function relayThen(a: RelaySide, b: RelaySide, onDone: (r: RelayResult) => void, signal?: AbortSignal): void {
  // An H2Stream has the members of a Duplex a relay uses (events, write, end, pause, resume,
  // writableLength, writableFinished, close(code)).
  new Relay(a as Duplex, b as Duplex, onDone).start(signal);
}

class Relay {
  readonly a: Side;
  readonly b: Side;
  readonly aToB: Direction;
  readonly bToA: Direction;
  private readonly resolve: (r: RelayResult) => void;
  // With a TCP socket on either side its own counters tell both directions, so nothing is
  // counted per chunk on the hot path.
  private readonly socketA: Socket | undefined;
  private readonly socketB: Socket | undefined;
  private aEnded = false;
  private bEnded = false;
  private done = false;
  private signal: AbortSignal | undefined;
  private onAbort: (() => void) | undefined;

  constructor(a: Duplex, b: Duplex, resolve: (r: RelayResult) => void) {
    this.a = a;
    this.b = b;
    this.resolve = resolve;
    this.socketA = plainSocket(a);
    this.socketB = this.socketA ? undefined : plainSocket(b);
    const counted = !this.socketA && !this.socketB;
    this.aToB = new Direction(a, b, counted);
    this.bToA = new Direction(b, a, counted);
  }

  start(signal: AbortSignal | undefined): void {
    const { a, b } = this;
    a[kRelay] = this;
    b[kRelay] = this;
    a.on('end', onSideEnd);
    b.on('end', onSideEnd);
    a.on('error', onSideError);
    b.on('error', onSideError);
    a.on('close', onSideClose);
    b.on('close', onSideClose);
    if (signal) {
      this.signal = signal;
      this.onAbort = (): void => this.abort();
      if (signal.aborted) return this.abort();
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
    // A side may be gone already, its 'close' emitted before this relay listened: a lean HBONE
    // stream reset in the same TCP segment as its 200 closes before its caller gets to relay it.
    // Waiting for that 'close' would hold the other side open forever.
    // (A lean stream reset with NO_ERROR after a complete response is closed but still readable:
    // what it holds is delivered first.)
    if (a.destroyed && !a.readable) return this.sideClosed(a);
    if (b.destroyed && !b.readable) return this.sideClosed(b);
    this.aToB.start();
    this.bToA.start();
  }

  sideEnded(side: Side): void {
    const other = side === this.a ? this.b : this.a;
    if (side === this.a) this.aEnded = true;
    else this.bEnded = true;
    other.once('finish', onSideFinish);
    this.checkComplete();
    // The end goes on to the other side (after the check, as when these were two listeners).
    other.end();
  }

  checkComplete(): void {
    const { a, b } = this;
    // Each side is done when it has delivered its end and the other side has flushed its own.
    if (this.aEnded && this.bEnded && a.writableFinished && b.writableFinished) {
      this.finish(RelayEnd.Completed);
      // An HTTP/2 stream that ended both ways closes by itself; destroying it would send a
      // RST_STREAM, and nghttp2 punishes a peer's resets past 1000 with GOAWAY for the session.
      if (!isHttp2Stream(a)) a.destroy();
      if (!isHttp2Stream(b)) b.destroy();
    }
  }

  sideFailed(side: Side, err?: Error): void {
    if (this.done) return;
    this.finish(sideEnd(side), err);
    reset(side === this.a ? this.b : this.a);
    side.destroy();
  }

  sideClosed(side: Side): void {
    const ended = side === this.a ? this.aEnded : this.bEnded;
    if (!(ended && side.writableFinished)) this.sideFailed(side);
  }

  private abort(): void {
    if (this.done) return;
    this.finish(RelayEnd.Aborted);
    reset(this.a);
    reset(this.b);
  }

  private finish(end: RelayEnd, error?: Error): void {
    if (this.done) return;
    this.done = true;
    const { a, b, aToB, bToA } = this;
    let bytesAtoB = aToB.bytes;
    let bytesBtoA = bToA.bytes;
    if (this.socketA) {
      bytesAtoB = this.socketA.bytesRead;
      bytesBtoA = this.socketA.bytesWritten;
    } else if (this.socketB) {
      bytesAtoB = this.socketB.bytesWritten;
      bytesBtoA = this.socketB.bytesRead;
    }
    aToB.stop();
    bToA.stop();
    for (const side of [a, b]) {
      side.off('end', onSideEnd);
      side.off('error', onSideError);
      side.off('close', onSideClose);
      side[kRelay] = undefined;
      // Keep a no-op error listener: late errors from a side being torn down must not crash.
      side.on('error', ignore);
    }
    if (this.onAbort) this.signal?.removeEventListener('abort', this.onAbort);
    this.resolve(error ? { end, bytesAtoB, bytesBtoA, error } : { end, bytesAtoB, bytesBtoA });
  }
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
    this.src.on('data', onSideData);
    // tunnelToHbone() pauses the socket until the CONNECT is answered; a listener alone does not
    // resume a stream that was paused explicitly.
    this.src.resume();
  }

  stop(): void {
    this.src.off('data', onSideData);
    if (this.onDrain) this.dst.off('drain', this.onDrain);
  }

  onData(chunk: Buffer): void {
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
  }
}

function plainSocket(d: Duplex): Socket | undefined {
  return d instanceof Socket && !('encrypted' in d) ? d : undefined;
}

function sideEnd(d: Duplex): RelayEnd {
  return isHttp2Stream(d) ? RelayEnd.StreamReset : RelayEnd.SocketReset;
}

function ignore(): void {}
