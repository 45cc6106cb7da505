// tcpProbe(): a plain TCP client that sends what the test scripts (nothing, garbage, a ClientHello
// one byte at a time) and reports whether the server closed the connection, and when.
import net, { type Socket } from 'node:net';
import tls from 'node:tls';

export interface TcpProbeResult {
  /** The server ended the connection before `timeoutMs`. */
  readonly closedByServer: boolean;
  readonly elapsedMs: number;
  readonly received: Buffer;
}

export function tcpProbe(port: number, script: (socket: Socket) => void, timeoutMs: number): Promise<TcpProbeResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, timeoutMs);
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.once('connect', () => script(socket));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closedByServer: !timedOut, elapsedMs: Date.now() - started, received: Buffer.concat(chunks) });
    });
  });
}

/** The bytes a TLS 1.3 client with ALPN h2 sends first (its ClientHello), captured from Node's own client. */
export function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        s.destroy();
        server.close();
        resolve(d);
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      // A bare TLS client: only its first flight matters, and the capture server cuts it off.
      const c = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      c.on('error', () => undefined);
    });
  });
}
