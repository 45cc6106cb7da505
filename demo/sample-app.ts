// The sample apps `ambit demo` runs in its pod namespaces (`node sample-app.js <mode> <name> [port]`):
//   server NAME PORT  the HTTP echo server (demo/echo-server.ts) answering as pod NAME;
//   client NAME       a traffic client driven by JSON lines on stdin: `traffic` sends steady
//                     traffic at a rate for a while, emitting a `tick` every second and a summary at
//                     the end (demo/traffic-stats.ts); `get` is one GET (readiness, /config_dump).
// Answers and events leave as JSON lines on stdout. It exits when its stdin closes.
import http from 'node:http';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { echoPodHeader, serveHttpEcho } from './echo-server.js';
import { TrafficStats, type TrafficSummary } from './traffic-stats.js';

export interface TrafficCommand {
  readonly op: 'traffic';
  readonly id: number;
  readonly url: string;
  /** Requests per second, started on a fixed schedule (open loop) up to `maxInFlight` at once. */
  readonly rps: number;
  readonly durationMs: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly maxInFlight?: number;
}

export type SampleCommand = TrafficCommand | { readonly op: 'get'; readonly id: number; readonly url: string; readonly timeoutMs: number };

export type SampleMessage =
  | { readonly event: 'ready'; readonly app: string }
  | { readonly event: 'tick'; readonly id: number; readonly second: number; readonly requests: number; readonly ok: number }
  | { readonly id: number; readonly ok: true; readonly summary?: TrafficSummary; readonly status?: number; readonly body?: string }
  | { readonly id: number; readonly ok: false; readonly error: string };

const send = (m: SampleMessage): void => void process.stdout.write(`${JSON.stringify(m)}\n`);

function traffic(cmd: TrafficCommand): void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: cmd.maxInFlight ?? 16 });
  const stats = new TrafficStats();
  const started = Date.now();
  let inFlight = 0;
  let issued = 0;
  let tickRequests = 0;
  let tickOk = 0;
  let second = 0;
  const one = (): void => {
    inFlight++;
    const t0 = performance.now();
    let settled = false;
    const done = (outcome: { status: number; pod?: string } | { error: string }): void => {
      if (settled) return;
      settled = true;
      inFlight--;
      stats.record(outcome, performance.now() - t0);
      tickRequests++;
      if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) tickOk++;
    };
    const req = http.request(cmd.url, { headers: { ...(cmd.headers ?? {}) }, agent, timeout: cmd.timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => {
        const pod = res.headers[echoPodHeader];
        done({ status: res.statusCode ?? 0, ...(typeof pod === 'string' ? { pod } : {}) });
      });
      res.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    req.end();
  };
  const total = Math.max(1, Math.round((cmd.rps * cmd.durationMs) / 1000));
  const schedule = setInterval(() => {
    const due = Math.min(total, Math.floor(((Date.now() - started) * cmd.rps) / 1000) + 1);
    while (issued < due && inFlight < (cmd.maxInFlight ?? 16)) {
      issued++;
      one();
    }
  }, 5);
  const ticker = setInterval(() => {
    send({ event: 'tick', id: cmd.id, second: ++second, requests: tickRequests, ok: tickOk });
    tickRequests = tickOk = 0;
  }, 1000);
  const finish = setInterval(() => {
    const over = Date.now() - started >= cmd.durationMs;
    if (!(over && inFlight === 0) && Date.now() - started < cmd.durationMs + cmd.timeoutMs + 1000) return;
    clearInterval(schedule);
    clearInterval(ticker);
    clearInterval(finish);
    agent.destroy();
    send({ id: cmd.id, ok: true, summary: stats.summary(Date.now() - started) });
  }, 20);
}

function get(cmd: Extract<SampleCommand, { op: 'get' }>): void {
  const req = http.get(cmd.url, { timeout: cmd.timeoutMs, agent: false }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (c: string) => (body += c));
    res.on('end', () => send({ id: cmd.id, ok: true, status: res.statusCode ?? 0, body }));
    res.on('error', (err) => send({ id: cmd.id, ok: false, error: err.message }));
  });
  req.on('timeout', () => req.destroy(new Error(`timeout after ${cmd.timeoutMs} ms`)));
  req.on('error', (err: NodeJS.ErrnoException) => send({ id: cmd.id, ok: false, error: err.code ?? err.message }));
}

async function main(mode: string, name: string, port: number): Promise<void> {
  if (mode === 'server') await serveHttpEcho(name, port);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const cmd = JSON.parse(line) as SampleCommand;
    if (cmd.op === 'traffic') traffic(cmd);
    else if (cmd.op === 'get') get(cmd);
  });
  lines.on('close', () => process.exit(0));
  process.on('SIGTERM', () => process.exit(0));
  send({ event: 'ready', app: name });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? 'client', process.argv[3] ?? 'app', Number(process.argv[4] ?? 8080)).catch((err: Error) => {
    process.stderr.write(`sample-app: ${err.message}\n`);
    process.exit(1);
  });
}
