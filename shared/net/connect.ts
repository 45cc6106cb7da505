// connectTcp(): one outgoing TCP connection with a deadline and an abort signal, half-open
// allowed (relay() propagates FIN separately in each direction). Resolves with the connected
// socket or rejects with the reason; never leaves a half-made socket behind.
import net, { type Socket } from 'node:net';

export interface ConnectTcpOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly localAddress?: string;
}

export function connectTcp(o: ConnectTcpOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted) return reject(new Error('aborted'));
    const socket = net.connect({ host: o.host, port: o.port, allowHalfOpen: true, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error): void => fail(err);
    const onAbort = (): void => fail(new Error('aborted'));
    const timer = setTimeout(() => fail(new Error(`connect timeout after ${o.timeoutMs} ms`)), o.timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      o.signal?.removeEventListener('abort', onAbort);
    };
    socket.once('error', onError);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      cleanup();
      // The owner's relay reports errors from here on; an error before it attaches must not crash.
      // A module-level function: an arrow made here would keep this whole closure (timer, options,
      // signal, handlers) alive for the socket's life, ~1 KB per open connection.
      socket.on('error', ignoreError);
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

function ignoreError(): void {}
