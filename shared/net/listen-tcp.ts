// listenTcp(): a proxy's TCP listener (ztunnel's capture listeners, the waypoint's 15008): the
// owner's accept callback, a big backlog, and accept errors (EMFILE/ENFILE) logged while the
// listener stays up — libuv retries once descriptors free up. Resolves with the bound port.
import net from 'node:net';
import type { Logger } from '../log.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface TcpListener {
  readonly server: net.Server;
  readonly port: number;
}

export function listenTcp(addr: ListenAddress, opts: { readonly allowHalfOpen: boolean; readonly logger: Logger; readonly onSocket: (s: net.Socket) => void }): Promise<TcpListener> {
  const server = net.createServer({ allowHalfOpen: opts.allowHalfOpen }, opts.onSocket);
  server.on('error', (err: NodeJS.ErrnoException) => opts.logger.error({ err: err.message, code: err.code, listen: addr }, 'listener error'));
  server.maxConnections = 100_000;
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host: addr.host, port: addr.port, backlog: 4096 }, () => {
      server.off('error', onError);
      resolve({ server, port: (server.address() as net.AddressInfo).port });
    });
  });
}
