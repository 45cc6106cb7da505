// Load processes for bench/ztunnel-netns.ts, run inside a pod's network namespace:
//   paced <host> <port> <rate> <seconds> <connections>
//     HTTP/1.1 GET / at a fixed rate over a few keep-alive connections (one request in flight per
//     connection); prints one JSON line: achieved rate and latency percentiles. Latency is timed
//     from the request's write to the response's last byte; a request due while every connection
//     is busy waits and is counted in `queued` (its wait counts in `latencyFromScheduleMs`).
//     Each connection first carries one unmeasured request, so the proxies' upstream connections
//     and TLS handshakes are made before the clock starts: the percentiles are steady state.
//   hold <host> <port> <count> <concurrency>
//     opens `count` connections, one GET each (so the tunnel is known to be end to end), keeps
//     them open; prints {"open":n,"failed":n} once all are up, closes everything when stdin ends.
import net from 'node:net';
import { ratePerSecond, summarizeLatencies } from './harness/latency-stats.js';

interface Conn {
  readonly socket: net.Socket;
  buf: string;
  sentAt: number;
  scheduledAt: number;
  onDone: ((ok: boolean) => void) | undefined;
}

const request = (host: string): string => `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;

/** True once `buf` holds one whole response (head + Content-Length body). */
function complete(buf: string): boolean {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const len = /\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1];
  return buf.length >= end + 4 + Number(len ?? 0);
}

function openConn(host: string, port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    const c: Conn = { socket, buf: '', sentAt: 0, scheduledAt: 0, onDone: undefined };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      c.buf += d;
      if (c.onDone && complete(c.buf)) {
        const ok = /^HTTP\/1\.1 200/.test(c.buf);
        c.buf = '';
        const f = c.onDone;
        c.onDone = undefined;
        f(ok);
      }
    });
    socket.once('connect', () => resolve(c));
    socket.on('error', (e) => {
      reject(e);
      const f = c.onDone;
      c.onDone = undefined;
      f?.(false);
    });
    socket.on('close', () => {
      const f = c.onDone;
      c.onDone = undefined;
      f?.(false);
    });
  });
}

async function paced(host: string, port: number, rate: number, seconds: number, connections: number): Promise<void> {
  const conns = await Promise.all(Array.from({ length: connections }, () => openConn(host, port)));
  const warm = await Promise.all(conns.map((c) => new Promise<boolean>((resolve) => {
    c.onDone = resolve;
    c.socket.write(request(host));
  })));
  if (warm.includes(false)) throw new Error(`paced: ${warm.filter((ok) => !ok).length} of ${connections} warm-up requests failed`);
  const idle = [...conns];
  const latencies: number[] = [];
  const fromSchedule: number[] = [];
  const total = Math.round(rate * seconds);
  const backlog: number[] = [];
  let sent = 0;
  let done = 0;
  let errors = 0;
  let queued = 0;
  const req = request(host);
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const send = (c: Conn, scheduledAt: number): void => {
      c.sentAt = performance.now();
      c.scheduledAt = scheduledAt;
      c.onDone = (ok) => {
        const now = performance.now();
        done++;
        if (ok) {
          latencies.push(now - c.sentAt);
          fromSchedule.push(now - c.scheduledAt);
        } else errors++;
        if (c.socket.destroyed) {
          // A broken connection is replaced so the rate holds.
          openConn(host, port).then((n) => release(n), () => undefined);
        } else release(c);
        if (done === total) resolve();
      };
      c.socket.write(req);
    };
    const release = (c: Conn): void => {
      const next = backlog.shift();
      if (next !== undefined) send(c, next);
      else idle.push(c);
    };
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      while (sent < due) {
        const scheduledAt = start + (sent * 1000) / rate;
        sent++;
        const c = idle.pop();
        if (c) send(c, scheduledAt);
        else {
          queued++;
          backlog.push(scheduledAt);
        }
      }
      if (sent < total) setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
  const durationMs = performance.now() - start;
  for (const c of conns) c.socket.destroy();
  // Quantiles by nearest rank, the same code as `ambit demo`'s numbers (bench/harness/latency-stats.ts).
  const l = summarizeLatencies(latencies);
  const s = summarizeLatencies(fromSchedule);
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  process.stdout.write(`${JSON.stringify({
    requests: total, completed: l.count, errors, queued, durationS: r3(durationMs / 1000), achievedRps: r3(ratePerSecond(l.count, durationMs)),
    latencyMs: { p50: r3(l.p50Ms), p90: r3(l.p90Ms), p99: r3(l.p99Ms), max: r3(l.maxMs) },
    latencyFromScheduleMs: { p50: r3(s.p50Ms), p99: r3(s.p99Ms) },
  })}\n`);
}

async function hold(host: string, port: number, count: number, concurrency: number): Promise<void> {
  const open: net.Socket[] = [];
  let failed = 0;
  let next = 0;
  const req = request(host);
  const one = async (): Promise<void> => {
    while (next < count) {
      next++;
      try {
        const c = await openConn(host, port);
        const ok = await new Promise<boolean>((resolve) => {
          c.onDone = resolve;
          c.socket.write(req);
        });
        if (ok) open.push(c.socket);
        else {
          failed++;
          c.socket.destroy();
        }
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, one));
  const stillOpen = open.filter((s) => !s.destroyed).length;
  process.stdout.write(`${JSON.stringify({ open: stillOpen, failed })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const s of open) s.destroy();
    process.exit(0);
  });
}

const [mode, host, port, a, b, c] = process.argv.slice(2);
if (mode === 'paced') void paced(host!, Number(port), Number(a), Number(b), Number(c ?? 16));
else if (mode === 'hold') void hold(host!, Number(port), Number(a), Number(b ?? 200));
else {
  process.stderr.write('usage: ztunnel-netns-client.js paced|hold ...\n');
  process.exitCode = 2;
}
