// tlsProbe(): one TLS client connection to a test server with whatever certificate and ALPN the
// test picks, reporting how it ended (handshake finished or not, alert/error code, bytes back).
import tls from 'node:tls';

export interface TlsProbeOptions {
  readonly port: number;
  readonly caPem: string;
  readonly keyPem?: string;
  readonly certPem?: string;
  /** ALPN protocols to offer; [] offers none. Default ['h2']. */
  readonly alpn?: readonly string[];
  /** Written once the client side of the handshake is done (e.g. the h2 preface). */
  readonly send?: Buffer;
  /** Give up (and destroy) after this long. Default 3000. */
  readonly timeoutMs?: number;
}

export interface TlsProbeResult {
  /** The client finished its side of the handshake (in TLS 1.3 before the server checked the client cert). */
  readonly secureConnected: boolean;
  readonly alpn: string | false | null | undefined;
  /** The first error the client saw: a TLS alert (ERR_SSL_TLSV13_ALERT_...), ECONNRESET... */
  readonly errorCode: string | undefined;
  /** Application bytes received from the server. */
  readonly bytesReceived: number;
  /** The server ended the connection (false: the probe timed out and closed it itself). */
  readonly closedByServer: boolean;
}

export function tlsProbe(opts: TlsProbeOptions): Promise<TlsProbeResult> {
  return new Promise((resolve) => {
    const alpn = opts.alpn ?? ['h2'];
    const socket = tls.connect({
      host: '127.0.0.1',
      port: opts.port,
      ca: opts.caPem,
      ...(opts.keyPem ? { key: opts.keyPem } : {}),
      ...(opts.certPem ? { cert: opts.certPem } : {}),
      ...(alpn.length > 0 ? { ALPNProtocols: [...alpn] } : {}),
      minVersion: 'TLSv1.3',
      checkServerIdentity: () => undefined,
    });
    let secureConnected = false;
    let negotiated: string | false | null | undefined;
    let errorCode: string | undefined;
    let bytesReceived = 0;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, opts.timeoutMs ?? 3000);
    socket.on('secureConnect', () => {
      secureConnected = true;
      negotiated = socket.alpnProtocol;
      if (opts.send) socket.write(opts.send);
    });
    socket.on('data', (d: Buffer) => {
      bytesReceived += d.length;
    });
    socket.on('error', (err: Error & { code?: string }) => {
      errorCode ??= err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ secureConnected, alpn: negotiated, errorCode, bytesReceived, closedByServer: !timedOut });
    });
  });
}
