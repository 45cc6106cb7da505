// SampleApp: drives a demo/sample-app.ts process inside a namespace of a Topology — an echo
// server (`server`), or a client that sends steady traffic and GETs (`client`).
import { AppChannel } from './app-channel.js';
import type { Topology } from './netns-topology.js';
import type { SampleCommand, SampleMessage, TrafficCommand } from './sample-app.js';
import type { TrafficSummary } from './traffic-stats.js';

// Compiled beside this file in dist/demo/.
const appScript = new URL('./sample-app.js', import.meta.url).pathname;

type Reply = Extract<SampleMessage, { id: number; ok: boolean }>;
type Tick = Extract<SampleMessage, { event: 'tick' }>;

export class SampleApp {
  readonly name: string;
  private readonly channel: AppChannel<SampleCommand, SampleMessage, Reply>;
  private readonly tickers = new Map<number, (t: Tick) => void>();

  private constructor(name: string, channel: AppChannel<SampleCommand, SampleMessage, Reply>) {
    this.name = name;
    this.channel = channel;
  }

  /** Starts `mode` (`server` on `port`, or `client`) as `name` in `ns`; resolves once it is ready. */
  static async start(topology: Topology, ns: string, mode: 'server' | 'client', name: string, port = 8080): Promise<SampleApp> {
    let app: SampleApp | undefined;
    const channel = await AppChannel.start<SampleCommand, SampleMessage, Reply>(topology, ns, name, appScript, [mode, name, String(port)], {
      onMessage: (m) => {
        if ('event' in m && m.event === 'tick') app?.tickers.get(m.id)?.(m);
      },
    });
    app = new SampleApp(name, channel);
    return app;
  }

  /** Steady traffic; `onTick` sees each second's requests and 2xx count. */
  async traffic(cmd: Omit<TrafficCommand, 'op' | 'id'>, onTick: (t: { second: number; requests: number; ok: number }) => void = () => undefined): Promise<TrafficSummary> {
    let id = 0;
    const r = await this.channel.request({ op: 'traffic', ...cmd }, cmd.durationMs + cmd.timeoutMs + 5000, (n) => {
      id = n;
      this.tickers.set(n, onTick);
    });
    this.tickers.delete(id);
    if (!r.ok || !r.summary) throw new Error(`app ${this.name}: traffic to ${cmd.url} failed: ${r.ok ? 'no summary' : r.error}`);
    return r.summary;
  }

  /** One GET from inside the namespace; never rejects on HTTP or network errors. */
  async get(url: string, timeoutMs = 1000): Promise<{ ok: true; status: number; body: string } | { ok: false; error: string }> {
    const r = await this.channel.request({ op: 'get', url, timeoutMs }, timeoutMs + 2000);
    return r.ok ? { ok: true, status: r.status ?? 0, body: r.body ?? '' } : { ok: false, error: r.error };
  }

  stop(): Promise<void> {
    return this.channel.stop();
  }
}
