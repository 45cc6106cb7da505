// The sample backend of `ambit demo` and the netns tier: an HTTP echo server that reflects each
// request (which pod answered, method, path, headers, peer address) as JSON and names the pod in
// an `x-echo-pod` header. Query `fail-every=N` answers 503 to every Nth request of this server;
// `delay-ms=N` answers N ms late (at most 30 s) — the misbehaviour retries and timeouts need.
import http from 'node:http';

export const echoPodHeader = 'x-echo-pod';

/** A v4-mapped IPv6 address as plain IPv4. */
export function plainIp(ip: string | undefined): string {
  return ip?.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : (ip ?? '');
}

/** Starts the echo server for pod `name` on 0.0.0.0:`port`; resolves once it listens. */
export function serveHttpEcho(name: string, port: number): Promise<http.Server> {
  let served = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      served++;
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const failEvery = Number(q.get('fail-every') ?? 0);
      const status = failEvery > 0 && served % failEvery === 0 ? 503 : 200;
      const body = JSON.stringify({ pod: name, method: req.method, path: req.url, headers: req.headers, remote: plainIp(req.socket.remoteAddress), body: Buffer.concat(chunks).toString() });
      const answer = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', [echoPodHeader]: name, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const delay = Number(q.get('delay-ms') ?? 0);
      if (delay > 0) setTimeout(answer, Math.min(delay, 30_000)).unref();
      else answer();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
