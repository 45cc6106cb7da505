// H2Session: a lean HTTP/2 connection (RFC 9113) over an established TLS socket, enough for HBONE:
// CONNECT streams both ways, SETTINGS, PING, WINDOW_UPDATE flow control, RST_STREAM and GOAWAY.
// It replaces node:http2 on ztunnel's HBONE hops: frames are parsed and written in JavaScript
// straight from and to the socket, and a stream is a small H2Stream, not a Duplex + nghttp2 state.
// The surface mirrors the parts of Node's Http2Session the HBONE pool and server use.
// (Over 500 lines on purpose: it is RFC 9113's connection state machine, one frame handler per
// frame type over the same stream table and windows; the separable parts are in header-block.ts,
// held-data.ts, output-batch.ts, ping-tracker.ts, idle-timer.ts and settings-reader.ts.)
import { EventEmitter } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { FrameReader, type FrameSink } from './frame-reader.js';
import {
  clientPreface, defaultSettings, FrameFlag, FrameType, goAwayFrame, H2Code, headersFrames, maxWindowBytes,
  settingsAckFrame, settingsFrame, SettingId, windowUpdateFrame, pingFrame,
  rstStreamFrame, defaultWindowBytes, type H2Settings,
} from './frames.js';
import { HeaderBlockAssembler, type HeaderBlockStep } from './header-block.js';
import { buildHeaders } from './header-fields.js';
import { H2Stream, type H2StreamOwner } from './h2-stream.js';
import { HpackDecoder, type HeaderField } from './hpack-decoder.js';
import { IdleTimer } from './idle-timer.js';
import { encodeHeaderBlock } from './hpack-encoder.js';
import { OutputBatch } from './output-batch.js';
import { PingTracker, type PingCallback } from './ping-tracker.js';
import { SettingsReader } from './settings-reader.js';

/**
 * Bytes a session lets wait for the socket (batched or in its buffer) before streams stop sending:
 * without it, a peer that opens big windows but reads slowly made us buffer up to its windows.
 */
const socketHighWaterBytes = 2 * 1024 * 1024;

export interface H2SessionOptions {
  readonly role: 'client' | 'server';
  /** What we advertise. */
  readonly settings: {
    readonly initialWindowSize: number;
    readonly maxFrameSize: number;
    readonly maxHeaderListSize: number;
    readonly maxConcurrentStreams?: number;
  };
  readonly connectionWindowBytes: number;
  /** Bytes streams may hold for paused consumers, all streams together, before ENHANCE_YOUR_CALM. */
  readonly maxHeldBytes: number;
  readonly maxOutstandingPings: number;
  /** Entries one SETTINGS frame may carry before ENHANCE_YOUR_CALM (Node's maxSettings). */
  readonly maxSettingsEntries: number;
}


export class H2Session extends EventEmitter implements H2StreamOwner, FrameSink {
  /** The peer's settings once its first SETTINGS frame arrived (Node's `remoteSettings`). */
  remoteSettings: H2Settings | undefined = undefined;
  /** GOAWAY sent or received, or close() called: no new streams. */
  closed = false;
  destroyed = false;
  readonly socket: TLSSocket;
  private readonly opts: H2SessionOptions;
  private readonly streams = new Map<number, H2Stream>();
  private readonly reader: FrameReader;
  private readonly decoder: HpackDecoder;
  private peer: H2Settings = defaultSettings();
  private nextStreamId = 1;
  private lastPeerStreamId = 0;
  private sendWindow = defaultWindowBytes;
  private recvWindow: number;
  private recvUnacked = 0;
  private heldBytes = 0;
  private readonly blocked = new Set<H2Stream>();
  private readonly headerBlocks: HeaderBlockAssembler;
  private dataStream: H2Stream | undefined;
  private dataLength = 0;
  private dataDelivered = 0;
  private goawaySent = false;
  private readonly output: OutputBatch;
  private readonly pings: PingTracker;
  private readonly idle = new IdleTimer();
  private readonly statusBlocks = new Map<number, Buffer>();
  /** The peer acknowledged our SETTINGS: until then it may use the default stream window. */
  private settingsAcked = false;

  constructor(socket: TLSSocket, opts: H2SessionOptions) {
    super();
    this.socket = socket;
    this.opts = opts;
    // The peer may always send the default 65,535 bytes on the connection (RFC 9113 §6.9.1).
    this.recvWindow = Math.max(defaultWindowBytes, opts.connectionWindowBytes);
    this.pings = new PingTracker(opts.maxOutstandingPings);
    this.output = new OutputBatch(socket, () => this.idle.touch());
    this.decoder = new HpackDecoder({ maxHeaderListBytes: opts.settings.maxHeaderListSize });
    this.headerBlocks = new HeaderBlockAssembler(2 * opts.settings.maxHeaderListSize);
    this.reader = new FrameReader(this, { maxFrameBytes: opts.settings.maxFrameSize, expectPreface: opts.role === 'server' });
    const s = opts.settings;
    const entries: Array<[number, number]> = [
      [SettingId.EnablePush, 0],
      [SettingId.InitialWindowSize, s.initialWindowSize],
      [SettingId.MaxFrameSize, s.maxFrameSize],
      [SettingId.MaxHeaderListSize, s.maxHeaderListSize],
    ];
    if (s.maxConcurrentStreams !== undefined) entries.push([SettingId.MaxConcurrentStreams, s.maxConcurrentStreams]);
    if (opts.role === 'client') this.send(clientPreface);
    this.send(settingsFrame(entries));
    if (opts.connectionWindowBytes > defaultWindowBytes) this.send(windowUpdateFrame(0, opts.connectionWindowBytes - defaultWindowBytes));
    socket.on('data', (chunk: Buffer) => {
      this.idle.touch();
      this.reader.push(chunk);
    });
    // The session owns the socket as Node's does: a reset (ECONNRESET, EPIPE) ends it, and must
    // not become an uncaught 'error' when its owner attached no listener of its own.
    socket.on('error', (err: Error) => {
      if (!this.destroyed && this.listenerCount('error') > 0) this.emit('error', err);
      this.finalize();
    });
    socket.on('close', () => this.finalize());
    socket.on('drain', () => this.flushBlocked());
    socket.on('end', () => this.finalize());
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Client: opens a stream with `headers` (pseudo-headers first). Throws once the session is closed. */
  request(headers: Readonly<Record<string, string | undefined>>): H2Stream {
    if (this.opts.role !== 'client') throw new Error('only a client session opens streams');
    if (this.destroyed || this.closed) throw new Error('the HTTP/2 session is closed');
    const id = this.nextStreamId;
    if (id > 0x7fff_ffff) throw new Error('stream identifiers exhausted');
    this.nextStreamId += 2;
    const pseudo: Array<[string, string]> = [];
    const regular: Array<[string, string]> = [];
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      // Field names go out lowercase (RFC 9113 §8.2.1), as Node's client makes them.
      if (name.charCodeAt(0) === 58) pseudo.push([name, value]);
      else regular.push([name.toLowerCase(), value]);
    }
    const stream = new H2Stream(this, id, this.peer.initialWindowSize, this.streamRecvWindow());
    this.streams.set(id, stream);
    // Plain strings: Huffman would save ~70 bytes per CONNECT but double the peer's decoding time.
    this.send(headersFrames(id, encodeHeaderBlock(pseudo.concat(regular), { huffman: false }), false, this.peer.maxFrameSize));
    return stream;
  }

  ping(cb: PingCallback): boolean {
    if (this.destroyed) throw new Error('the HTTP/2 session is destroyed');
    this.send(pingFrame(this.pings.start(cb), false));
    return true;
  }

  /** Calls `cb` once nothing was received or sent for `ms`; 0 turns it off (Node's session.setTimeout). */
  setTimeout(ms: number, cb: () => void): void {
    if (!this.destroyed) this.idle.set(ms, cb);
  }

  /** Graceful: GOAWAY(NO_ERROR); open streams finish; the connection ends once none is left. */
  close(): void {
    if (this.destroyed || this.closed) return;
    this.closed = true;
    this.sendGoAway(H2Code.NoError);
    if (this.streams.size === 0) this.endSocket();
  }

  /** At once: GOAWAY(code) if still possible, every stream ends, the connection is closed. */
  destroy(_err?: Error, code: number = H2Code.NoError): void {
    if (this.destroyed) return;
    this.closed = true;
    this.sendGoAway(code);
    // finalize() writes the GOAWAY out and ends the socket.
    this.finalize();
  }

  // FrameSink: what the reader found.

  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.headerBlocks.inProgress && type !== FrameType.Continuation) return this.fail(H2Code.ProtocolError, 'expected CONTINUATION');
    switch (type) {
      case FrameType.Headers: return this.onHeaderStep(this.headerBlocks.headers(flags, streamId, payload));
      case FrameType.Continuation: return this.onHeaderStep(this.headerBlocks.continuation(flags, streamId, payload));
      case FrameType.Settings: return this.onSettings(flags, streamId, payload);
      case FrameType.Ping: return this.onPing(flags, streamId, payload);
      case FrameType.WindowUpdate: return this.onWindowUpdate(streamId, payload);
      case FrameType.RstStream: return this.onRstStream(streamId, payload);
      case FrameType.GoAway: return this.onGoAway(streamId, payload);
      case FrameType.Priority:
        if (streamId === 0) return this.fail(H2Code.ProtocolError, 'PRIORITY on stream 0');
        return;
      case FrameType.PushPromise: return this.fail(H2Code.ProtocolError, 'PUSH_PROMISE with push disabled');
      default: return; // RFC 9113 §4.1: unknown frame types are ignored
    }
  }

  onDataStart(streamId: number, _flags: number, length: number): void {
    if (this.headerBlocks.inProgress) return this.fail(H2Code.ProtocolError, 'expected CONTINUATION');
    if (streamId === 0) return this.fail(H2Code.ProtocolError, 'DATA on stream 0');
    this.recvWindow -= length;
    if (this.recvWindow < 0) return this.fail(H2Code.FlowControlError, 'DATA beyond the connection window');
    // The connection window comes back at once, as node:http2 does: a paused stream holds at most
    // its own window and never stalls the other streams (heldChanged() bounds the sum).
    this.recvUnacked += length;
    if (this.recvUnacked >= this.opts.connectionWindowBytes / 2) {
      this.send(windowUpdateFrame(0, this.recvUnacked));
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
    this.dataStream = undefined;
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.isIdle(streamId)) this.fail(H2Code.ProtocolError, `DATA on idle stream ${streamId}`);
      return; // a stream we closed: what was in flight is dropped
    }
    if (stream.endReceived) return this.streamError(stream, H2Code.StreamClosed);
    if (this.opts.role === 'client' && !stream.responded) return this.streamError(stream, H2Code.ProtocolError);
    stream.recvWindow -= length;
    if (stream.recvWindow < 0) return this.streamError(stream, H2Code.FlowControlError);
    this.dataStream = stream;
    this.dataLength = length;
    this.dataDelivered = 0;
  }

  onDataPiece(_streamId: number, piece: Buffer): void {
    const stream = this.dataStream;
    if (stream === undefined || stream.destroyed) return;
    this.dataDelivered += piece.length;
    stream.receive(piece);
  }

  onDataEnd(_streamId: number, flags: number): void {
    const stream = this.dataStream;
    this.dataStream = undefined;
    if (stream === undefined || stream.destroyed) return;
    const padding = this.dataLength - this.dataDelivered;
    if (padding > 0) this.consumed(stream, padding);
    if (flags & FrameFlag.EndStream) this.remoteEnd(stream);
  }

  onFrameError(code: number, reason: string): void {
    this.fail(code, reason);
  }

  // H2StreamOwner: what streams ask of their session.

  flushStream(stream: H2Stream): void {
    if (this.destroyed) return;
    // DATA before the response HEADERS is a protocol error: a server stream written before
    // respond() answers 200 first, as Node's does.
    if (this.opts.role === 'server' && stream.sentHeaders === undefined) stream.respond({ ':status': 200 });
    const queue = stream.queue;
    while (queue !== undefined && stream.queuedBytes > 0) {
      // TCP pushes back too: past socketHighWaterBytes unsent, streams wait for the socket's 'drain'.
      const socketRoom = socketHighWaterBytes - this.output.backlog;
      const allowed = Math.min(stream.sendWindow, this.sendWindow, this.peer.maxFrameSize, socketRoom);
      if (allowed <= 0) {
        this.blocked.add(stream);
        return;
      }
      let piece = queue[0]!;
      if (piece.length > allowed) {
        queue[0] = piece.subarray(allowed);
        piece = piece.subarray(0, allowed);
      } else queue.shift();
      stream.queuedBytes -= piece.length;
      stream.sendWindow -= piece.length;
      this.sendWindow -= piece.length;
      const last = stream.queuedBytes === 0 && stream.endQueued;
      this.sendData(stream.id, piece, last);
      if (last) {
        stream.queue = undefined;
        stream.finished();
        return;
      }
    }
    stream.queue = undefined;
    this.blocked.delete(stream);
    if (stream.endQueued && !stream.writableFinished) {
      this.sendData(stream.id, undefined, true);
      stream.finished();
      return;
    }
    stream.drained();
  }

  consumed(stream: H2Stream, bytes: number): void {
    stream.recvUnacked += bytes;
    if (stream.recvUnacked >= this.opts.settings.initialWindowSize / 2 && !stream.endReceived && !stream.destroyed) {
      this.send(windowUpdateFrame(stream.id, stream.recvUnacked));
      stream.recvWindow += stream.recvUnacked;
      stream.recvUnacked = 0;
    }
  }

  /**
   * Paused consumers' held bytes, all streams together, are bounded: the stream whose data passes
   * the bound is reset (ENHANCE_YOUR_CALM, its held data dropped); the session and the other
   * streams go on. Stalling the connection window instead would let a few slow apps block every
   * tunnel of the session, and closing the session would reset them all.
   */
  heldChanged(stream: H2Stream, delta: number): void {
    this.heldBytes += delta;
    if (delta <= 0 || this.heldBytes <= this.opts.maxHeldBytes || stream.destroyed) return;
    this.emit('streamRejected', 'held_bytes');
    this.streamError(stream, H2Code.EnhanceYourCalm);
  }

  sendReset(stream: H2Stream, code: number): void {
    this.send(rstStreamFrame(stream.id, code));
  }

  streamClosed(stream: H2Stream): void {
    this.streams.delete(stream.id);
    this.blocked.delete(stream);
    if (this.closed && this.streams.size === 0) this.endSocket();
  }

  respond(stream: H2Stream, status: number, endStream: boolean): void {
    let block = this.statusBlocks.get(status);
    if (block === undefined) {
      block = encodeHeaderBlock([[':status', String(status)]]);
      this.statusBlocks.set(status, block);
    }
    this.send(headersFrames(stream.id, block, endStream, this.peer.maxFrameSize));
  }

  // Frames.

  /** HEADERS or CONTINUATION: a whole header block goes on to onHeaderBlock. */
  private onHeaderStep(step: HeaderBlockStep): void {
    if (step.kind === 'error') return this.fail(step.code, step.reason);
    if (step.kind === 'block') this.onHeaderBlock(step.streamId, step.flags, step.block);
  }

  private onHeaderBlock(streamId: number, flags: number, block: Buffer): void {
    // Decoded even when the stream is refused: the HPACK table must follow the peer's encoder.
    const decoded = this.decoder.decode(block);
    if (!decoded.ok && decoded.error === 'compression') return this.fail(H2Code.CompressionError, decoded.reason);
    const endStream = (flags & FrameFlag.EndStream) !== 0;
    const existing = this.streams.get(streamId);
    if (existing) return this.onLaterHeaders(existing, decoded.ok ? decoded.fields : undefined, endStream);
    if (this.opts.role === 'client') {
      if (this.isIdle(streamId)) this.fail(H2Code.ProtocolError, `HEADERS on idle stream ${streamId}`);
      return;
    }
    if (streamId % 2 === 0) return this.fail(H2Code.ProtocolError, `HEADERS opening stream ${streamId}`);
    // A stream we closed (reset, refused, or answered early): the peer may have sent trailers
    // before it saw that; RFC 9113 §5.1 has them ignored, the block only feeding HPACK above.
    if (streamId <= this.lastPeerStreamId) return;
    this.lastPeerStreamId = streamId;
    if (this.goawaySent) return this.send(rstStreamFrame(streamId, H2Code.RefusedStream));
    if (!decoded.ok) {
      this.send(rstStreamFrame(streamId, H2Code.EnhanceYourCalm));
      this.emit('streamRejected', 'headers_too_large');
      return;
    }
    const headers = buildHeaders(decoded.fields, 'request');
    if (typeof headers === 'string') {
      this.send(rstStreamFrame(streamId, H2Code.ProtocolError));
      this.emit('streamRejected', 'malformed_headers');
      return;
    }
    const limit = this.opts.settings.maxConcurrentStreams ?? Infinity;
    if (this.streams.size >= limit) {
      this.send(rstStreamFrame(streamId, H2Code.RefusedStream));
      this.emit('streamRejected', 'max_concurrent_streams');
      return;
    }
    const stream = new H2Stream(this, streamId, this.peer.initialWindowSize, this.streamRecvWindow());
    this.streams.set(streamId, stream);
    if (endStream) stream.endReceived = true;
    this.emit('stream', stream, headers);
    if (endStream && !stream.destroyed) stream.receiveEnd();
  }

  /** The response on a client stream, or trailers on either side. */
  private onLaterHeaders(stream: H2Stream, fields: HeaderField[] | undefined, endStream: boolean): void {
    if (stream.endReceived) return this.streamError(stream, H2Code.StreamClosed);
    if (fields === undefined) return this.streamError(stream, H2Code.ProtocolError);
    if (this.opts.role === 'client' && !stream.responded) {
      const headers = buildHeaders(fields, 'response');
      if (typeof headers === 'string' || headers[':status'] === undefined) return this.streamError(stream, H2Code.ProtocolError);
      const status = Number(headers[':status']);
      if (status >= 100 && status < 200) {
        if (endStream) this.streamError(stream, H2Code.ProtocolError);
        return; // informational: the final response follows
      }
      stream.responded = true;
      if (endStream) stream.endReceived = true;
      stream.gotResponse(headers);
      if (endStream && !stream.destroyed) stream.receiveEnd();
      return;
    }
    // Trailers end the stream; HEADERS in the middle of a tunnel, or trailers with pseudo-header
    // fields, are malformed (RFC 9113 §8.1).
    if (!endStream || fields.some(isPseudo)) return this.streamError(stream, H2Code.ProtocolError);
    this.remoteEnd(stream);
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.fail(H2Code.ProtocolError, 'SETTINGS on a stream');
    if (flags & FrameFlag.Ack) {
      if (payload.length !== 0) return this.fail(H2Code.FrameSizeError, 'SETTINGS ack with a payload');
      if (this.settingsAcked) return;
      // Our SETTINGS_INITIAL_WINDOW_SIZE now applies to the streams opened under the default.
      this.settingsAcked = true;
      const delta = this.opts.settings.initialWindowSize - defaultWindowBytes;
      if (delta !== 0) for (const stream of this.streams.values()) stream.recvWindow += delta;
      return;
    }
    if (payload.length / 6 > this.opts.maxSettingsEntries) return this.fail(H2Code.EnhanceYourCalm, 'SETTINGS with too many entries');
    const read = new SettingsReader(this.peer, this.opts.role).read(payload);
    if (!read.ok) return this.fail(read.code, read.reason);
    this.peer = read.settings;
    if (read.windowDelta !== 0) {
      for (const stream of this.streams.values()) {
        stream.sendWindow += read.windowDelta;
        if (stream.sendWindow > maxWindowBytes) return this.fail(H2Code.FlowControlError, 'SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window');
      }
    }
    this.send(settingsAckFrame);
    this.remoteSettings = this.peer;
    this.emit('remoteSettings', this.peer);
    if (read.windowDelta > 0) this.flushBlocked();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.fail(H2Code.ProtocolError, 'PING on a stream');
    if (payload.length !== 8) return this.fail(H2Code.FrameSizeError, 'PING payload not 8 bytes');
    if ((flags & FrameFlag.Ack) === 0) {
      this.send(pingFrame(payload, true));
      this.emit('ping', payload);
      return;
    }
    this.pings.acked(payload);
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(H2Code.FrameSizeError, 'WINDOW_UPDATE payload not 4 bytes');
    const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
    if (streamId === 0) {
      if (increment === 0) return this.fail(H2Code.ProtocolError, 'WINDOW_UPDATE of 0 for the connection');
      this.sendWindow += increment;
      if (this.sendWindow > maxWindowBytes) return this.fail(H2Code.FlowControlError, 'connection window past 2^31-1');
      return this.flushBlocked();
    }
    const stream = this.streams.get(streamId);
    if (!stream) {
      if (this.isIdle(streamId)) this.fail(H2Code.ProtocolError, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) return this.streamError(stream, H2Code.ProtocolError);
    stream.sendWindow += increment;
    if (stream.sendWindow > maxWindowBytes) return this.streamError(stream, H2Code.FlowControlError);
    if (stream.queuedBytes > 0 || (stream.endQueued && !stream.writableFinished)) this.flushStream(stream);
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(H2Code.FrameSizeError, 'RST_STREAM payload not 4 bytes');
    if (streamId === 0) return this.fail(H2Code.ProtocolError, 'RST_STREAM on stream 0');
    const stream = this.streams.get(streamId);
    if (stream) return stream.terminate(payload.readUInt32BE(0));
    if (this.isIdle(streamId)) this.fail(H2Code.ProtocolError, `RST_STREAM on idle stream ${streamId}`);
  }

  private onGoAway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.fail(H2Code.ProtocolError, 'GOAWAY on a stream');
    if (payload.length < 8) return this.fail(H2Code.FrameSizeError, 'GOAWAY payload too short');
    const lastStreamId = payload.readUInt32BE(0) & 0x7fff_ffff;
    const code = payload.readUInt32BE(4);
    this.closed = true;
    // Our streams past the peer's last one were never processed: they may be retried elsewhere.
    if (this.opts.role === 'client') for (const stream of [...this.streams.values()]) if (stream.id > lastStreamId) stream.terminate(H2Code.RefusedStream);
    this.emit('goaway', code, lastStreamId);
    if (this.streams.size === 0) this.endSocket();
  }

  // Helpers.

  private remoteEnd(stream: H2Stream): void {
    stream.endReceived = true;
    stream.receiveEnd();
  }

  /** RFC 9113 §6.9.2: until the peer acknowledges our SETTINGS it may send the default window. */
  private streamRecvWindow(): number {
    return this.settingsAcked ? this.opts.settings.initialWindowSize : defaultWindowBytes;
  }

  /** A stream id neither side has used yet. */
  private isIdle(streamId: number): boolean {
    const ours = (streamId % 2 === 1) === (this.opts.role === 'client');
    return ours ? streamId >= this.nextStreamId : streamId > this.lastPeerStreamId;
  }

  private streamError(stream: H2Stream, code: number): void {
    if (this.dataStream === stream) this.dataStream = undefined;
    stream.close(code);
  }

  private flushBlocked(): void {
    for (const stream of [...this.blocked]) {
      if (this.sendWindow <= 0 || this.output.backlog >= socketHighWaterBytes) return;
      this.blocked.delete(stream);
      this.flushStream(stream);
    }
  }

  private sendData(streamId: number, data: Buffer | undefined, endStream: boolean): void {
    if (!this.destroyed) this.output.pushData(streamId, data, endStream);
  }

  private sendGoAway(code: number): void {
    if (this.goawaySent || this.destroyed) return;
    this.goawaySent = true;
    this.send(goAwayFrame(this.lastPeerStreamId, code));
  }

  private send(buf: Buffer): void {
    if (!this.destroyed) this.output.push(buf);
  }

  /** Writes what is batched now (before the socket ends). */
  flushOut(): void {
    this.output.flush();
  }

  /** A connection error (RFC 9113 §5.4.1): GOAWAY with the code, then the connection ends. */
  private fail(code: number, reason: string): void {
    if (this.destroyed) return;
    this.reader.stop();
    if (this.listenerCount('error') > 0) this.emit('error', Object.assign(new Error(`HTTP/2 connection error: ${reason}`), { code: 'ERR_HTTP2_SESSION_ERROR', h2Code: code }));
    this.destroy(undefined, code);
  }

  private endSocket(): void {
    this.flushOut();
    if (!this.socket.destroyed) this.socket.destroySoon();
  }

  /** The connection is gone: every stream ends, pings fail, 'close' once. */
  private finalize(): void {
    if (this.destroyed) return;
    this.closed = true;
    this.flushOut();
    this.destroyed = true;
    this.reader.stop();
    this.idle.clear();
    for (const stream of [...this.streams.values()]) stream.terminate(H2Code.Cancel);
    this.streams.clear();
    this.blocked.clear();
    this.pings.failAll();
    if (!this.socket.destroyed) this.socket.destroySoon();
    process.nextTick(() => this.emit('close'));
  }
}

function isPseudo(field: HeaderField): boolean {
  return field[0].charCodeAt(0) === 58;
}

