// MeshApp: drives a mesh-app process inside a namespace of a Topology — echo/sink servers,
// exchanges, long-lived connections, HTTP GETs — and keeps what the app reported (accepted
// connections, sink contents, closed long-lived connections). Every request has a deadline.
import { AppChannel } from '../../demo/app-channel.js';
import type { Address, AppCommand, AppEvent, AppMessage, AppReply, Ending, ExchangeResult, HttpBatchResult } from './mesh-app.js';
import type { Topology } from './netns.js';

export type { Address, Ending, ExchangeResult, HttpBatchResult };

// Compiled beside this file in dist/test/support/.
const appScript = new URL('./mesh-app.js', import.meta.url).pathname;

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export interface Closed {
  readonly ending: Ending;
  readonly error?: string;
  /** Date.now() in the app when it saw the close (same machine clock as the test). */
  readonly atMs: number;
}

export class LongLivedConnection {
  readonly id: number;
  private readonly app: MeshApp;
  closed?: Closed;
  private readonly waiters: (() => void)[] = [];

  constructor(app: MeshApp, id: number) {
    this.app = app;
    this.id = id;
  }

  /** Writes `payload` and resolves true once it is echoed back, false if not within `timeoutMs`. */
  async ping(payload: string, timeoutMs = 2000): Promise<{ ok: true } | { ok: false; error: string }> {
    const r = await this.app.request({ op: 'ping', conn: this.id, payload, timeoutMs }, timeoutMs + 1000);
    return r.ok ? { ok: true } : { ok: false, error: r.error };
  }

  /** Resolves with how the connection ended; rejects after `timeoutMs` with `what`. */
  whenClosed(timeoutMs: number, what: string): Promise<Closed> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: connection ${this.app.name}#${this.id} still open after ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve(this.closed!);
      });
    });
  }

  close(): Promise<void> {
    return this.app.request({ op: 'close', conn: this.id }, 2000).then(() => undefined);
  }

  /** @internal */
  markClosed(c: Closed): void {
    this.closed = c;
    for (const w of this.waiters.splice(0)) w();
  }
}

export class MeshApp {
  readonly name: string;
  readonly ip: string;
  /** Every connection the app's servers accepted, in order. */
  readonly accepted: { port: number; remote: Address }[] = [];
  /** What each sink connection received, in order. */
  readonly received: { port: number; remote: Address; data: string }[] = [];
  private channel!: AppChannel<AppCommand, AppMessage, AppReply>;
  private readonly conns = new Map<number, LongLivedConnection>();

  private constructor(name: string, ip: string) {
    this.name = name;
    this.ip = ip;
  }

  /** Starts the app in `ns` (whose address is `ip`) and waits until it is ready. */
  static async start(topology: Topology, ns: string, name: string, ip: string): Promise<MeshApp> {
    const app = new MeshApp(name, ip);
    app.channel = await AppChannel.start<AppCommand, AppMessage, AppReply>(topology, ns, name, appScript, [name], { onMessage: (m) => app.handle(m) });
    return app;
  }

  async listen(port: number, mode: 'echo' | 'sink' | 'http-echo' = 'echo'): Promise<void> {
    const r = await this.request({ op: 'listen', port, mode }, 5000);
    if (!r.ok) throw new Error(`app ${this.name} cannot listen on ${port}: ${r.error}`);
  }

  /** Connects, sends `payload`, half-closes, and collects the answer until the connection ends. */
  async exchange(ip: string, port: number, payload: string, timeoutMs = 5000): Promise<ExchangeResult> {
    const r = await this.request({ op: 'exchange', ip, port, payload, timeoutMs }, timeoutMs + 2000);
    if (!r.ok || !r.exchange) throw new Error(`app ${this.name}: exchange with ${ip}:${port} failed: ${r.ok ? 'no result' : r.error}`);
    return r.exchange;
  }

  /** Opens a connection that stays open until closed by either side. */
  async open(ip: string, port: number, timeoutMs = 5000): Promise<LongLivedConnection> {
    const r = await this.request({ op: 'open', ip, port, timeoutMs }, timeoutMs + 2000);
    if (!r.ok || r.conn === undefined) throw new Error(`app ${this.name}: cannot open a connection to ${ip}:${port}: ${r.ok ? 'no id' : r.error}`);
    return this.conns.get(r.conn)!;
  }

  /** An HTTP GET from inside the namespace; never rejects on HTTP or network errors. */
  async httpGet(url: string, timeoutMs = 2000): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
    const r = await this.request({ op: 'http', url, timeoutMs }, timeoutMs + 2000);
    return r.ok ? { ok: true, status: r.status ?? 0, body: r.body ?? '' } : { ok: false, error: r.error };
  }

  /** `count` HTTP requests to `url` over `concurrency` keep-alive connections; a summary back. */
  async httpBatch(url: string, opts: { count: number; concurrency?: number; method?: string; headers?: Record<string, string>; timeoutMs?: number }): Promise<HttpBatchResult> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const r = await this.request({ op: 'http-batch', url, count: opts.count, concurrency: opts.concurrency ?? 4, timeoutMs, ...(opts.method ? { method: opts.method } : {}), ...(opts.headers ? { headers: opts.headers } : {}) }, timeoutMs * opts.count + 10_000);
    if (!r.ok || !r.batch) throw new Error(`app ${this.name}: http batch to ${url} failed: ${r.ok ? 'no result' : r.error}`);
    return r.batch;
  }

  acceptedCount(port?: number): number {
    return port === undefined ? this.accepted.length : this.accepted.filter((a) => a.port === port).length;
  }

  stop(): Promise<void> {
    return this.channel.stop();
  }

  /** @internal */
  request(cmd: Distribute<AppCommand>, timeoutMs: number): Promise<AppReply> {
    return this.channel.request(cmd, timeoutMs);
  }

  /** Events, and replies before they resolve their request. */
  private handle(m: AppMessage): void {
    if ('event' in m) return this.onEvent(m);
    // Registered now, not when open() resumes: its 'closed' event may be on the next line.
    if (m.ok && m.conn !== undefined && !this.conns.has(m.conn)) this.conns.set(m.conn, new LongLivedConnection(this, m.conn));
  }

  private onEvent(e: AppEvent): void {
    switch (e.event) {
      case 'ready': return; // AppChannel waits for it
      case 'accepted': return void this.accepted.push({ port: e.port, remote: e.remote });
      case 'received': return void this.received.push({ port: e.port, remote: e.remote, data: e.data });
      case 'closed': return this.conns.get(e.conn)?.markClosed({ ending: e.ending, ...(e.error ? { error: e.error } : {}), atMs: e.atMs });
    }
  }
}
