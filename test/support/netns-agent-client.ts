// NetnsAgent: drives a netns-agent process inside a namespace of a Topology — listen on ports,
// connect somewhere and learn which listener (and which original destination) the connection
// really reached.
import { createInterface } from 'node:readline';
import type { SocketAddress } from '../../shared/net/orig-dst.js';
import type { AcceptReport, AgentCommand, AgentMessage } from './netns-agent.js';
import type { NetnsProcess, Topology } from './netns.js';

export type { AcceptReport };

export type ConnectOutcome =
  | { readonly ok: true; readonly local?: SocketAddress; readonly reply: AcceptReport }
  | { readonly ok: false; readonly error: string };

// Compiled beside this file in dist/test/support/.
const agentScript = new URL('./netns-agent.js', import.meta.url).pathname;

type Pending = (m: AgentMessage) => void;

export class NetnsAgent {
  readonly name: string;
  /** Every connection this agent accepted, in order. */
  readonly accepted: AcceptReport[] = [];
  private readonly proc: NetnsProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  private constructor(name: string, proc: NetnsProcess) {
    this.name = name;
    this.proc = proc;
  }

  /** Starts the agent in `ns` and waits until it is ready. */
  static async start(topology: Topology, ns: string, name: string): Promise<NetnsAgent> {
    const proc = topology.spawn(ns, process.execPath, [agentScript, name]);
    const agent = new NetnsAgent(name, proc);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`agent ${name} not ready in 10 s: ${proc.stderr()}`)), 10_000);
      agent.onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      proc.child.once('exit', () => {
        clearTimeout(timer);
        for (const [id, p] of agent.pending) p({ id, ok: false, error: `agent ${proc.exitReason() ?? 'exited'}` });
        agent.pending.clear();
        reject(new Error(`agent ${name} ${proc.exitReason() ?? 'exited'}: ${proc.stderr()}`));
      });
    });
    const lines = createInterface({ input: proc.child.stdout! });
    lines.on('line', (line) => agent.handle(JSON.parse(line) as AgentMessage));
    await ready;
    return agent;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<void> {
    const m = await this.request({ op: 'listen', id: 0, port, host });
    if ('ok' in m && !m.ok) throw new Error(`agent ${this.name} cannot listen on ${host}:${port}: ${m.error}`);
  }

  /** Connects from inside the namespace; the reply says which agent and listener accepted it. */
  async connect(ip: string, port: number, timeoutMs = 3000): Promise<ConnectOutcome> {
    const m = await this.request({ op: 'connect', id: 0, ip, port, timeoutMs });
    if (!('ok' in m)) return { ok: false, error: 'unexpected message' };
    if (!m.ok) return { ok: false, error: m.error };
    if (!m.reply) return { ok: false, error: 'no reply' };
    return m.local ? { ok: true, local: m.local, reply: m.reply } : { ok: true, reply: m.reply };
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }

  private onReady: () => void = () => undefined;

  private request(cmd: AgentCommand): Promise<AgentMessage> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.proc.child.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  private handle(m: AgentMessage): void {
    if ('event' in m) {
      if (m.event === 'ready') this.onReady();
      else this.accepted.push(m.report);
      return;
    }
    const p = this.pending.get(m.id);
    this.pending.delete(m.id);
    p?.(m);
  }
}
