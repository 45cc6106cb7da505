// Loopback ports for tests that start external peers (nghttpx, tinyproxy): a free port to hand
// to a process that cannot listen on port 0, and a wait until a port accepts connections.
import net, { type AddressInfo } from 'node:net';

/** A port on 127.0.0.1 that was free a moment ago (the kernel picked it for a listener on port 0). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Resolves once 127.0.0.1:`port` accepts a TCP connection; rejects after `timeoutMs`, or as soon
 * as `gaveUp()` says the process that should listen there is gone.
 */
export async function waitForPort(port: number, opts: { timeoutMs?: number; gaveUp?: () => string | undefined } = {}): Promise<void> {
  const end = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (await tryConnect(port)) return;
    const reason = opts.gaveUp?.();
    if (reason !== undefined) throw new Error(`nothing will listen on 127.0.0.1:${port}: ${reason}`);
    if (Date.now() > end) throw new Error(`127.0.0.1:${port} did not accept connections within ${opts.timeoutMs ?? 10_000} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
