// ScriptedH2Server: an HBONE server made of hand-written frames (mutual TLS 1.3 + ALPN h2), so a
// test decides exactly what the client's pool sees and in which TCP write: a late 200, a GOAWAY
// among in-flight CONNECTs, a 200 and a RST_STREAM in one segment, no answer at all.
import tls, { type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { hboneTlsOptions } from '../../shared/identity/tls.js';
import type { WorkloadCertificate } from '../../shared/identity/workload-certificate.js';
import { clientPreface, encodeFrame, FrameFlag, FrameReader, FrameType, headerBlock, headersFrame, settingsFrame, type Frame } from './h2-frames.js';

export interface ScriptedConnection {
  readonly socket: TLSSocket;
  /** RST_STREAM codes the client sent, by stream id. */
  readonly resets: Map<number, number>;
  /** Stream ids the client opened (HEADERS), in order. */
  readonly opened: number[];
  write(buf: Buffer): void;
}

/** What the server does when the client opens a stream; nothing by default (a silent server). */
export type OnStream = (conn: ScriptedConnection, streamId: number) => void;

export function statusFrame(streamId: number, status: number, endStream = false): Buffer {
  return headersFrame(streamId, headerBlock([[':status', String(status)]]), { endStream });
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32BE(lastStreamId, 0);
  payload.writeUInt32BE(code, 4);
  return encodeFrame(FrameType.Goaway, 0, 0, payload);
}

export class ScriptedH2Server {
  readonly connections: ScriptedConnection[] = [];
  onStream: OnStream = () => undefined;
  /** The SETTINGS entries each connection starts with (none by default). */
  settings: ReadonlyArray<readonly [number, number]> = [];
  /** Frames written right after the SETTINGS (e.g. a GOAWAY). */
  greeting: Buffer = Buffer.alloc(0);
  private readonly server: tls.Server;

  private constructor(server: tls.Server) {
    this.server = server;
  }

  static async start(cert: WorkloadCertificate): Promise<ScriptedH2Server> {
    const server = tls.createServer({ ...hboneTlsOptions(cert), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] });
    const scripted = new ScriptedH2Server(server);
    server.on('secureConnection', (socket) => scripted.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return scripted;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: TLSSocket): void {
    socket.on('error', () => undefined);
    const conn: ScriptedConnection = {
      socket,
      resets: new Map(),
      opened: [],
      write: (buf) => {
        if (!socket.destroyed) socket.write(buf);
      },
    };
    this.connections.push(conn);
    conn.write(Buffer.concat([settingsFrame(this.settings), this.greeting]));
    const reader = new FrameReader();
    let preface = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (preface.length < clientPreface.length) {
        const need = clientPreface.length - preface.length;
        preface = Buffer.concat([preface, chunk.subarray(0, need)]);
        chunk = chunk.subarray(need);
      }
      for (const f of reader.push(chunk)) this.onFrame(conn, f);
    });
  }

  private onFrame(conn: ScriptedConnection, f: Frame): void {
    if (f.type === FrameType.Settings && (f.flags & FrameFlag.Ack) === 0) conn.write(settingsFrame([], true));
    else if (f.type === FrameType.Ping && (f.flags & FrameFlag.Ack) === 0) conn.write(encodeFrame(FrameType.Ping, FrameFlag.Ack, 0, f.payload));
    else if (f.type === FrameType.RstStream) conn.resets.set(f.streamId, f.payload.readUInt32BE(0));
    else if (f.type === FrameType.Headers) {
      conn.opened.push(f.streamId);
      this.onStream(conn, f.streamId);
    }
  }
}
