// A proxied TCP connection for relay tests: the client program's end and the end a proxy accepted
// (what ztunnel's outbound listener hands to tunnelToHbone), with how the program saw it end.
import net, { type AddressInfo, type Socket } from 'node:net';

/** A proxied TCP connection: `app` is the client program's end, `proxied` what ztunnel accepted. */
export interface DownstreamPair {
  readonly app: Socket;
  readonly proxied: Socket;
  close(): Promise<void>;
}

export async function downstreamPair(): Promise<DownstreamPair> {
  let accept: (s: Socket) => void = () => undefined;
  const accepted = new Promise<Socket>((resolve) => { accept = resolve; });
  const server = net.createServer({ allowHalfOpen: true }, (s) => accept(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const app = net.connect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
  app.on('error', () => undefined);
  const proxied = await accepted;
  proxied.on('error', () => undefined);
  return {
    app,
    proxied,
    close: async () => {
      app.destroy();
      proxied.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** How the app's end of a proxied connection ended: a FIN after these bytes, or a reset. */
export function appOutcome(app: Socket): Promise<{ data: string; reset: boolean }> {
  const chunks: Buffer[] = [];
  app.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => {
    app.once('error', (err: NodeJS.ErrnoException) => resolve({ data: Buffer.concat(chunks).toString(), reset: err.code === 'ECONNRESET' }));
    app.once('end', () => resolve({ data: Buffer.concat(chunks).toString(), reset: false }));
  });
}
