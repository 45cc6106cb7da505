// AppChannel: the line protocol between a driver and an app process it spawned in a namespace
// (demo/sample-app.ts, the tests' mesh-app): commands go out as JSON lines on stdin, each with an
// id; replies (`{id, ok}`) and events (`{event}`) come back as JSON lines on stdout. It starts the
// process, resolves once it sends `{event: 'ready'}`, gives every request a deadline, and fails
// what is pending when the process exits.
import { createInterface } from 'node:readline';
import type { NetnsProcess, Topology } from './netns-topology.js';

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export type ChannelReply = { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly error: string };

export interface AppChannelOptions<M> {
  /** Every message but the ready event, before a reply resolves its request. */
  readonly onMessage: (m: M) => void;
}

export class AppChannel<Cmd extends { readonly op: string }, M extends object, R extends ChannelReply> {
  readonly name: string;
  readonly proc: NetnsProcess;
  private readonly pending = new Map<number, (m: R) => void>();
  private nextId = 1;

  private constructor(name: string, proc: NetnsProcess) {
    this.name = name;
    this.proc = proc;
  }

  /** Spawns `node script ...args` as `name` in `ns`; resolves once the app said it is ready. */
  static async start<Cmd extends { readonly op: string }, M extends object, R extends ChannelReply>(
    topology: Topology, ns: string, name: string, script: string, args: readonly string[], opts: AppChannelOptions<M>,
  ): Promise<AppChannel<Cmd, M, R>> {
    const proc = topology.spawn(ns, process.execPath, [script, ...args]);
    const channel = new AppChannel<Cmd, M, R>(name, proc);
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`app ${name} not ready in 10 s: ${proc.stderr()}`)), 10_000);
      onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      proc.child.once('exit', () => {
        clearTimeout(timer);
        for (const [id, p] of channel.pending) p({ id, ok: false, error: `app ${proc.exitReason() ?? 'exited'}` } as R);
        channel.pending.clear();
        reject(new Error(`app ${name} ${proc.exitReason() ?? 'exited'}: ${proc.stderr()}`));
      });
    });
    ready.catch(() => undefined);
    createInterface({ input: proc.child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as M & { event?: string; id?: number };
      if (m.event === 'ready') return onReady();
      opts.onMessage(m);
      if (m.event !== undefined || m.id === undefined) return;
      const p = channel.pending.get(m.id);
      channel.pending.delete(m.id);
      p?.(m as unknown as R);
    });
    await ready;
    return channel;
  }

  /**
   * Sends `cmd` with a fresh id; an answer not within `timeoutMs` resolves as a failure. `onId`
   * learns the id before the command leaves (for events keyed by the request that caused them).
   */
  request(cmd: Distribute<Cmd>, timeoutMs: number, onId?: (id: number) => void): Promise<R> {
    const id = this.nextId++;
    onId?.(id);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ id, ok: false, error: `app ${this.name} did not answer ${cmd.op} within ${timeoutMs} ms` } as R);
      }, timeoutMs);
      this.pending.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.proc.child.stdin?.write(`${JSON.stringify({ ...cmd, id })}\n`);
    });
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}
