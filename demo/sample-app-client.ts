// SampleApp: drives a demo/sample-app.ts process inside a namespace of a Topology — an echo
// server (`server`), or a client that sends steady traffic and GETs (`client`).
import { createInterface } from 'node:readline';
import type { NetnsProcess, Topology } from './netns-topology.js';
import type { SampleCommand, SampleMessage, TrafficCommand } from './sample-app.js';
import type { TrafficSummary } from './traffic-stats.js';

// Compiled beside this file in dist/demo/.
const appScript = new URL('./sample-app.js', import.meta.url).pathname;

type Reply = Extract<SampleMessage, { id: number; ok: boolean }>;
type Tick = Extract<SampleMessage, { event: 'tick' }>;
type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export class SampleApp {
  readonly name: string;
  private readonly proc: NetnsProcess;
  private readonly pending = new Map<number, (m: Reply) => void>();
  private readonly tickers = new Map<number, (t: Tick) => void>();
  private nextId = 1;
  private onReady: () => void = () => undefined;

  private constructor(name: string, proc: NetnsProcess) {
    this.name = name;
    this.proc = proc;
  }

  /** Starts `mode` (`server` on `port`, or `client`) as `name` in `ns`; resolves once it is ready. */
  static async start(topology: Topology, ns: string, mode: 'server' | 'client', name: string, port = 8080): Promise<SampleApp> {
    const proc = topology.spawn(ns, process.execPath, [appScript, mode, name, String(port)]);
    const app = new SampleApp(name, proc);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app ${name} not ready in 10 s: ${proc.stderr()}`)), 10_000);
      app.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      proc.child.once('exit', () => {
        clearTimeout(timer);
        for (const [id, p] of app.pending) p({ id, ok: false, error: `app ${proc.exitReason() ?? 'exited'}` });
        app.pending.clear();
        reject(new Error(`app ${name} ${proc.exitReason() ?? 'exited'}: ${proc.stderr()}`));
      });
    });
    ready.catch(() => undefined);
    createInterface({ input: proc.child.stdout! }).on('line', (line) => app.handle(JSON.parse(line) as SampleMessage));
    await ready;
    return app;
  }

  /** Steady traffic; `onTick` sees each second's requests and 2xx count. */
  async traffic(cmd: Omit<TrafficCommand, 'op' | 'id'>, onTick: (t: { second: number; requests: number; ok: number }) => void = () => undefined): Promise<TrafficSummary> {
    const r = await this.request({ op: 'traffic', ...cmd }, cmd.durationMs + cmd.timeoutMs + 5000, onTick);
    if (!r.ok || !r.summary) throw new Error(`app ${this.name}: traffic to ${cmd.url} failed: ${r.ok ? 'no summary' : r.error}`);
    return r.summary;
  }

  /** One GET from inside the namespace; never rejects on HTTP or network errors. */
  async get(url: string, timeoutMs = 1000): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
    const r = await this.request({ op: 'get', url, timeoutMs }, timeoutMs + 2000);
    return r.ok ? { ok: true, status: r.status ?? 0, body: r.body ?? '' } : { ok: false, error: r.error };
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }

  private request(cmd: Distribute<SampleCommand>, timeoutMs: number, onTick?: (t: Tick) => void): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.tickers.delete(id);
        resolve({ id, ok: false, error: `app ${this.name} did not answer ${cmd.op} within ${timeoutMs} ms` });
      }, timeoutMs);
      if (onTick) this.tickers.set(id, onTick);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        this.tickers.delete(id);
        resolve(m);
      });
      this.proc.child.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  private handle(m: SampleMessage): void {
    if ('event' in m) {
      if (m.event === 'ready') this.onReady();
      else this.tickers.get(m.id)?.(m);
      return;
    }
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    p?.(m);
  }
}
