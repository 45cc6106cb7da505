// The bulk load process: one TCP connection, one HTTP/1.1 GET of a large body, bytes counted
// and thrown away. Prints one JSON line: {bytes, seconds, gbps}. Timed from the TCP connect to
// the body's last byte, so a proxy's upstream setup counts (it is milliseconds of seconds).
// Usage: node bulk-client.js <port> <path>
import net from 'node:net';
import { pathToFileURL } from 'node:url';

export interface BulkResult {
  readonly bytes: number;
  readonly seconds: number;
  readonly gbps: number;
}

export function fetchBulk(port: number, path: string): Promise<BulkResult> {
  return new Promise((resolve, reject) => {
    let started = 0;
    let head = '';
    let expected = -1;
    let body = 0;
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      started = performance.now();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    });
    const finish = (): void => {
      const seconds = (performance.now() - started) / 1000;
      socket.destroy();
      resolve({ bytes: body, seconds, gbps: (body * 8) / seconds / 1e9 });
    };
    socket.on('data', (chunk: Buffer) => {
      if (expected < 0) {
        head += chunk.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = /^HTTP\/1\.1 (\d{3})/.exec(head)?.[1];
        const length = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end))?.[1];
        if (status !== '200' || length === undefined) {
          socket.destroy();
          reject(new Error(`bulk: unexpected response head: ${head.slice(0, end)}`));
          return;
        }
        expected = Number(length);
        body = head.length - end - 4;
        head = '';
      } else {
        body += chunk.length;
      }
      if (body >= expected) finish();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (expected < 0 || body < expected) reject(new Error(`bulk: connection closed after ${body} of ${expected} body bytes`));
    });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const [port, path] = process.argv.slice(2);
  fetchBulk(Number(port), path ?? '/bulk.bin').then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
