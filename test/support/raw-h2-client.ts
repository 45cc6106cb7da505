// RawH2Client: an HTTP/2 client over mutual TLS that writes hand-made frames (h2-frames.ts) and
// records what the server answers (SETTINGS, GOAWAY, RST_STREAM, response :status, END_STREAM),
// for attacks Node's own client refuses to send.
import tls, { type TLSSocket } from 'node:tls';
import { clientPreface, FrameFlag, FrameReader, FrameType, pingFrame, responseStatus, settingsFrame, type Frame } from './h2-frames.js';

export interface RawH2Options {
  readonly port: number;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  /** Send the connection preface and an empty SETTINGS right after TLS (default true). */
  readonly preface?: boolean;
  /** Acknowledge the server's SETTINGS (default true). */
  readonly ackSettings?: boolean;
  /** Answer the server's PINGs, as any live client does (default true). */
  readonly ackPings?: boolean;
}

export interface Goaway {
  readonly lastStreamId: number;
  readonly errorCode: number;
}

export class RawH2Client {
  readonly socket: TLSSocket;
  readonly goaways: Goaway[] = [];
  /** RST_STREAM received, by stream id. */
  readonly resets = new Map<number, number>();
  /** Response `:status`, by stream id (see responseStatus for what is decoded). */
  readonly statuses = new Map<number, number>();
  readonly endedStreams = new Set<number>();
  readonly dataBytes = new Map<number, number>();
  serverSettings = 0;
  settingsAcks = 0;
  pingAcks = 0;
  bytesSent = 0;
  closed = false;
  private readonly reader = new FrameReader();
  private readonly ackSettings: boolean;
  private readonly ackPings: boolean;
  private readonly closedPromise: Promise<void>;

  private constructor(socket: TLSSocket, ackSettings: boolean, ackPings: boolean) {
    this.socket = socket;
    this.ackSettings = ackSettings;
    this.ackPings = ackPings;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.reader.push(chunk)) this.onFrame(f);
    });
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  static async open(opts: RawH2Options): Promise<RawH2Client> {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: opts.port,
      key: opts.keyPem,
      cert: opts.certPem,
      ca: opts.caPem,
      ALPNProtocols: ['h2'],
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error('TLS handshake with the test server timed out')), 5000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const client = new RawH2Client(socket, opts.ackSettings ?? true, opts.ackPings ?? true);
    if (opts.preface ?? true) client.write(Buffer.concat([clientPreface, settingsFrame()]));
    return client;
  }

  /** Writes unless the socket is gone; returns false once the caller should wait for drain(). */
  write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    this.bytesSent += buf.length;
    return this.socket.write(buf);
  }

  /** Waits until the socket's buffer drained or the socket closed (true), or `timeoutMs` passed (false). */
  drain(timeoutMs = 5000): Promise<boolean> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean) => (): void => {
        clearTimeout(timer);
        this.socket.off('drain', onDrain);
        this.socket.off('close', onDrain);
        resolve(drained);
      };
      const onDrain = done(true);
      const timer = setTimeout(done(false), timeoutMs);
      this.socket.once('drain', onDrain);
      this.socket.once('close', onDrain);
    });
  }

  /** Resolves true once the server closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.closedPromise.then(() => true), timeout]);
    clearTimeout(timer);
    return result;
  }

  /**
   * Writes `count` frames from `make`, `perWrite` at a time (bigger writes arrive as bursts the
   * server must parse in one go), with backpressure; stops early once the server closes.
   * Returns how many frames were written.
   */
  async flood(count: number, make: (i: number) => Buffer, perWrite = 64): Promise<number> {
    let i = 0;
    while (i < count && !this.closed) {
      const batch: Buffer[] = [];
      for (const end = Math.min(count, i + perWrite); i < end; i++) batch.push(make(i));
      // A server that stops reading stalls the flood: give up rather than wait forever.
      if (!this.write(Buffer.concat(batch)) && !(await this.drain())) break;
      // Yield so the server (same process) and other clients get the event loop.
      await new Promise((r) => setImmediate(r));
    }
    return i;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.Settings:
        if (f.flags & FrameFlag.Ack) this.settingsAcks++;
        else {
          this.serverSettings++;
          if (this.ackSettings) this.write(settingsFrame([], true));
        }
        break;
      case FrameType.Ping:
        if (f.flags & FrameFlag.Ack) this.pingAcks++;
        else if (this.ackPings) this.write(pingFrame(f.payload, true));
        break;
      case FrameType.Goaway:
        this.goaways.push({ lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, errorCode: f.payload.readUInt32BE(4) });
        break;
      case FrameType.RstStream:
        this.resets.set(f.streamId, f.payload.readUInt32BE(0));
        break;
      case FrameType.Headers: {
        const status = responseStatus(f.payload);
        if (status !== undefined && !this.statuses.has(f.streamId)) this.statuses.set(f.streamId, status);
        if (f.flags & FrameFlag.EndStream) this.endedStreams.add(f.streamId);
        break;
      }
      case FrameType.Data:
        this.dataBytes.set(f.streamId, (this.dataBytes.get(f.streamId) ?? 0) + f.payload.length);
        if (f.flags & FrameFlag.EndStream) this.endedStreams.add(f.streamId);
        break;
      default:
        break;
    }
  }
}
