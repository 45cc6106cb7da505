// An application process for the netns tier (`node mesh-app.js <name>`), run inside a pod's (or a
// node's) network namespace: TCP echo and sink servers, one-shot exchanges, long-lived connections
// that can be pinged, HTTP GETs (readiness, /config_dump), an HTTP echo server that reflects each
// request (which pod answered, method, path, headers), and batches of HTTP requests with a summary. Commands arrive as JSON lines on
// stdin; answers and events leave as JSON lines on stdout. Everything it does has a deadline, and
// it exits when its stdin closes (the test ended or died).
import http from 'node:http';
import { plainIp as plain, serveHttpEcho } from '../../demo/echo-server.js';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export interface Address {
  readonly ip: string;
  readonly port: number;
}

/** How a connection ended, as its client saw it. */
export type Ending = 'end' | 'reset' | 'close' | 'timeout' | 'refused';

export type AppCommand =
  | { readonly op: 'listen'; readonly id: number; readonly port: number; readonly mode: 'echo' | 'sink' | 'http-echo' }
  | { readonly op: 'http-batch'; readonly id: number; readonly url: string; readonly count: number; readonly concurrency: number; readonly method?: string; readonly headers?: Record<string, string>; readonly timeoutMs: number }
  | { readonly op: 'exchange'; readonly id: number; readonly ip: string; readonly port: number; readonly payload: string; readonly timeoutMs: number }
  | { readonly op: 'open'; readonly id: number; readonly ip: string; readonly port: number; readonly timeoutMs: number }
  | { readonly op: 'ping'; readonly id: number; readonly conn: number; readonly payload: string; readonly timeoutMs: number }
  | { readonly op: 'close'; readonly id: number; readonly conn: number }
  | { readonly op: 'http'; readonly id: number; readonly url: string; readonly timeoutMs: number };

export interface ExchangeResult {
  /** Whether the TCP connect succeeded (a connection captured by ztunnel always connects). */
  readonly connected: boolean;
  /** Everything received before the connection ended. */
  readonly data: string;
  readonly ending: Ending;
  readonly error?: string;
  readonly local?: Address;
}

/** What a batch of HTTP requests got: counts by status and by answering pod, and a few bodies. */
export interface HttpBatchResult {
  readonly statuses: Record<string, number>;
  readonly pods: Record<string, number>;
  readonly errors: Record<string, number>;
  /** The first body seen per status. */
  readonly samples: Record<string, string>;
  readonly elapsedMs: number;
}

export type AppReply =
  | { readonly id: number; readonly ok: true; readonly exchange?: ExchangeResult; readonly conn?: number; readonly status?: number; readonly body?: string; readonly batch?: HttpBatchResult }
  | { readonly id: number; readonly ok: false; readonly error: string };

export type AppEvent =
  | { readonly event: 'ready'; readonly app: string; readonly pid: number }
  | { readonly event: 'accepted'; readonly port: number; readonly remote: Address }
  /** A sink's connection ended: what it received in total. */
  | { readonly event: 'received'; readonly port: number; readonly remote: Address; readonly data: string }
  /** A long-lived connection (op open) ended; `atMs` is Date.now() in this process. */
  | { readonly event: 'closed'; readonly conn: number; readonly ending: Ending; readonly error?: string; readonly atMs: number };

export type AppMessage = AppReply | AppEvent;

const endingOf = (err: NodeJS.ErrnoException): Ending =>
  err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : err.code === 'ECONNREFUSED' ? 'refused' : 'close';

interface LongLived {
  readonly socket: net.Socket;
  received: string;
  waiter?: () => void;
}

function main(name: string): void {
  const servers: net.Server[] = [];
  const conns = new Map<number, LongLived>();
  let nextConn = 1;
  const send = (m: AppMessage): void => {
    process.stdout.write(`${JSON.stringify(m)}\n`);
  };

  // The echo server is the demo's (demo/echo-server.ts): fail-every=N, delay-ms=N.
  const listenHttp = (cmd: Extract<AppCommand, { op: 'listen' }>): void => {
    serveHttpEcho(name, cmd.port).then(
      (server) => {
        servers.push(server as unknown as net.Server);
        send({ id: cmd.id, ok: true });
      },
      (err: Error) => send({ id: cmd.id, ok: false, error: err.message }),
    );
  };

  const batch = (cmd: Extract<AppCommand, { op: 'http-batch' }>): void => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: cmd.concurrency });
    const result = { statuses: {} as Record<string, number>, pods: {} as Record<string, number>, errors: {} as Record<string, number>, samples: {} as Record<string, string> };
    const started = Date.now();
    let issued = 0;
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const req = http.request(cmd.url, { method: cmd.method ?? 'GET', headers: cmd.headers ?? {}, agent, timeout: cmd.timeoutMs }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => {
            const status = String(res.statusCode ?? 0);
            result.statuses[status] = (result.statuses[status] ?? 0) + 1;
            result.samples[status] ??= body.slice(0, 400);
            const pod = res.headers['x-echo-pod'];
            if (typeof pod === 'string') result.pods[pod] = (result.pods[pod] ?? 0) + 1;
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err: NodeJS.ErrnoException) => {
          const code = err.code ?? err.message;
          result.errors[code] = (result.errors[code] ?? 0) + 1;
          resolve();
        });
        req.end();
      });
    const worker = async (): Promise<void> => {
      while (issued < cmd.count) {
        issued++;
        await one();
      }
    };
    void Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, worker)).then(() => {
      agent.destroy();
      send({ id: cmd.id, ok: true, batch: { ...result, elapsedMs: Date.now() - started } });
    });
  };

  const listen = (cmd: Extract<AppCommand, { op: 'listen' }>): void => {
    if (cmd.mode === 'http-echo') return listenHttp(cmd);
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on('error', () => undefined);
      const remote = { ip: plain(socket.remoteAddress), port: socket.remotePort ?? 0 };
      send({ event: 'accepted', port: cmd.port, remote });
      if (cmd.mode === 'echo') {
        socket.pipe(socket);
        return;
      }
      let data = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        if (data.length < 65_536) data += c;
      });
      socket.on('end', () => {
        send({ event: 'received', port: cmd.port, remote, data });
        socket.end();
      });
    });
    server.once('error', (err) => send({ id: cmd.id, ok: false, error: err.message }));
    server.listen(cmd.port, '0.0.0.0', () => {
      servers.push(server);
      send({ id: cmd.id, ok: true });
    });
  };

  const exchange = (cmd: Extract<AppCommand, { op: 'exchange' }>): void => {
    const socket = net.connect({ host: cmd.ip, port: cmd.port, allowHalfOpen: true });
    let connected = false;
    let data = '';
    let ending: Ending = 'close';
    let error: string | undefined;
    let local: Address | undefined;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      send({ id: cmd.id, ok: true, exchange: { connected, data, ending, ...(error ? { error } : {}), ...(local ? { local } : {}) } });
    };
    const timer = setTimeout(() => {
      ending = 'timeout';
      finish();
    }, cmd.timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      connected = true;
      local = { ip: plain(socket.localAddress), port: socket.localPort ?? 0 };
      socket.end(cmd.payload);
    });
    socket.on('data', (c: string) => {
      data += c;
    });
    socket.on('end', () => {
      ending = 'end';
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      ending = endingOf(err);
      error = err.code ?? err.message;
    });
    socket.on('close', finish);
  };

  const open = (cmd: Extract<AppCommand, { op: 'open' }>): void => {
    const socket = net.connect({ host: cmd.ip, port: cmd.port });
    const conn = nextConn++;
    let opened = false;
    let ending: Ending = 'close';
    let error: string | undefined;
    const timer = setTimeout(() => {
      if (opened) return;
      error = 'connect timeout';
      socket.destroy();
    }, cmd.timeoutMs);
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    const c: LongLived = { socket, received: '' };
    socket.on('connect', () => {
      opened = true;
      clearTimeout(timer);
      conns.set(conn, c);
      send({ id: cmd.id, ok: true, conn });
    });
    socket.on('data', (d: string) => {
      c.received += d;
      c.waiter?.();
    });
    socket.on('end', () => {
      ending = 'end';
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      ending = endingOf(err);
      error = err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!opened) return send({ id: cmd.id, ok: false, error: error ?? 'closed before connecting' });
      send({ event: 'closed', conn, ending, ...(error ? { error } : {}), atMs: Date.now() });
      c.waiter?.();
    });
  };

  /** Writes `payload` on a long-lived connection and waits for it to come back (echo). */
  const ping = (cmd: Extract<AppCommand, { op: 'ping' }>): void => {
    const c = conns.get(cmd.conn);
    if (!c) return send({ id: cmd.id, ok: false, error: `no connection ${cmd.conn}` });
    if (c.socket.destroyed) return send({ id: cmd.id, ok: false, error: 'connection closed' });
    const from = c.received.length;
    const timer = setTimeout(() => reply({ id: cmd.id, ok: false, error: `no echo within ${cmd.timeoutMs} ms` }), cmd.timeoutMs);
    let answered = false;
    const reply = (m: AppReply): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      c.waiter = undefined;
      send(m);
    };
    c.waiter = () => {
      if (c.received.indexOf(cmd.payload, from) >= 0) reply({ id: cmd.id, ok: true });
      else if (c.socket.destroyed) reply({ id: cmd.id, ok: false, error: 'connection closed' });
    };
    c.socket.write(cmd.payload);
  };

  const get = (cmd: Extract<AppCommand, { op: 'http' }>): void => {
    const req = http.get(cmd.url, { timeout: cmd.timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => send({ id: cmd.id, ok: true, status: res.statusCode ?? 0, body }));
      res.on('error', (err) => send({ id: cmd.id, ok: false, error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${cmd.timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => send({ id: cmd.id, ok: false, error: err.code ?? err.message }));
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const cmd = JSON.parse(line) as AppCommand;
    switch (cmd.op) {
      case 'listen': return listen(cmd);
      case 'exchange': return exchange(cmd);
      case 'open': return open(cmd);
      case 'ping': return ping(cmd);
      case 'close': {
        conns.get(cmd.conn)?.socket.destroy();
        conns.delete(cmd.conn);
        return send({ id: cmd.id, ok: true });
      }
      case 'http': return get(cmd);
      case 'http-batch': return batch(cmd);
    }
  });
  // The test closing our stdin (or dying) ends the app.
  lines.on('close', () => {
    for (const s of servers) s.close();
    process.exit(0);
  });
  process.on('SIGTERM', () => process.exit(0));
  send({ event: 'ready', app: name, pid: process.pid });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv[2] ?? 'app');
