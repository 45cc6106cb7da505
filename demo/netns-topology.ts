// Topology: network namespaces as nodes and pods, for `ambit demo`, the netns test tier and the
// benches. Pods hang off their node by a routed veth (no bridge); nodes are joined by veth pairs.
// Every name starts with a per-run prefix (ab<pid>-…), so parallel runs never collide, and
// destroy() — also run on exit, SIGINT and SIGTERM — kills its processes and deletes everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { ipTool, listNamespaces, mustRun, pidAlive, run, type ExecResult } from './netns-support.js';

export type { ExecResult };

export interface NetnsNode {
  readonly name: string;
  /** The namespace's name under /var/run/netns. */
  readonly ns: string;
  readonly ip: string;
}

export interface NetnsPod {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  readonly node: NetnsNode;
  /** The pod's veth end in the node's namespace. */
  readonly nodeInterface: string;
}

export interface NetnsProcess {
  readonly ns: string;
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  /** Set once the process has exited. */
  exitReason(): string | undefined;
  /** The last 64 KiB of its stderr, for failure messages. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface Leftovers {
  /** Namespaces with this run's prefix that still exist. */
  readonly namespaces: readonly string[];
  /** Links with this run's prefix in the root namespace (none are ever made there). */
  readonly links: readonly string[];
  /** nat rules mentioning AMBIT in this run's namespaces that still exist. */
  readonly natRules: readonly string[];
  /** Processes this topology started that are still alive. */
  readonly processes: readonly number[];
}
const namePattern = /^[a-z][a-z0-9]{0,11}$/;
const maxStderrChars = 64 * 1024;

let topologies = 0;

export class Topology {
  /** Every name this topology makes starts with it: `ab<pid>-<n>-`. */
  readonly prefix: string;
  private readonly nodes = new Map<string, NetnsNode>();
  private readonly pods = new Map<string, NetnsPod>();
  private readonly links: { a: NetnsNode; b: NetnsNode }[] = [];
  private readonly namespaces: string[] = [];
  private readonly processes = new Set<NetnsProcess>();
  private readonly startedPids = new Set<number>();
  private destroyed = false;
  private readonly onExit = (): void => this.destroySync();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.destroySync();
    process.kill(process.pid, signal);
  };

  constructor() {
    this.prefix = `ab${process.pid}-${topologies++}-`;
    process.once('exit', this.onExit);
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /**
   * A node namespace with `ip`/32 on lo (so the node has its IP before any link; kernels without
   * the dummy driver exist), forwarding on, rp_filter off.
   */
  addNode(name: string, ip: string): NetnsNode {
    this.checkName(name);
    const ns = this.createNamespace(name);
    const node: NetnsNode = { name, ns, ip };
    this.ipIn(ns, ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    // default first: interfaces created afterwards inherit it (the effective value is max(all, iface)).
    mustRun(ipTool(), ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.ip_forward=1']);
    this.nodes.set(name, node);
    return node;
  }

  /** Joins two nodes with a veth pair and routes each one's pods (now and later) via the other. */
  linkNodes(a: string, b: string): void {
    const na = this.node(a);
    const nb = this.node(b);
    const ifA = `to-${nb.name}`;
    const ifB = `to-${na.name}`;
    mustRun(ipTool(), ['link', 'add', 'name', ifA, 'netns', na.ns, 'type', 'veth', 'peer', 'name', ifB, 'netns', nb.ns]);
    // Each end carries its node's IP: REDIRECT rewrites to the incoming interface's address.
    for (const [n, peer, dev] of [[na, nb, ifA], [nb, na, ifB]] as const) {
      this.ipIn(n.ns, ['addr', 'add', `${n.ip}/32`, 'dev', dev]);
      this.ipIn(n.ns, ['link', 'set', dev, 'up']);
      this.ipIn(n.ns, ['route', 'add', `${peer.ip}/32`, 'dev', dev, 'src', n.ip]);
    }
    this.links.push({ a: na, b: nb });
    for (const pod of this.pods.values()) this.routeToPod(pod);
  }

  /**
   * A pod namespace: `ip`/32 on its eth0, a veth to its node (the node's end also carries the
   * node IP, which REDIRECT needs), a /32 route to it in the node, default route via the node.
   */
  addPod(node: string, name: string, ip: string): NetnsPod {
    this.checkName(name);
    const n = this.node(node);
    const ns = this.createNamespace(name);
    const nodeInterface = `p-${name}`;
    mustRun(ipTool(), ['link', 'add', 'name', nodeInterface, 'netns', n.ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    this.ipIn(n.ns, ['addr', 'add', `${n.ip}/32`, 'dev', nodeInterface]);
    this.ipIn(n.ns, ['link', 'set', nodeInterface, 'up']);
    this.ipIn(n.ns, ['route', 'add', `${ip}/32`, 'dev', nodeInterface, 'src', n.ip]);
    this.ipIn(ns, ['addr', 'add', `${ip}/32`, 'dev', 'eth0']);
    this.ipIn(ns, ['link', 'set', 'eth0', 'up']);
    this.ipIn(ns, ['route', 'add', n.ip, 'dev', 'eth0', 'scope', 'link']);
    this.ipIn(ns, ['route', 'add', 'default', 'via', n.ip, 'dev', 'eth0']);
    const pod: NetnsPod = { name, ns, ip, node: n, nodeInterface };
    this.pods.set(name, pod);
    this.routeToPod(pod);
    return pod;
  }

  /** The namespace name of a node or pod of this topology. */
  nsOf(name: string): string {
    const ns = this.nodes.get(name)?.ns ?? this.pods.get(name)?.ns;
    if (!ns) throw new Error(`no node or pod named ${name}`);
    return ns;
  }

  /** Runs `file args` inside the namespace (`ip netns exec`), `input` on stdin; never rejects. */
  exec(ns: string, file: string, args: readonly string[], opts: { readonly input?: string; readonly timeoutMs?: number } = {}): Promise<ExecResult> {
    return new Promise((resolve) => {
      const child = spawn(ipTool(), ['netns', 'exec', ns, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.stdin.on('error', () => undefined);
      child.once('error', (e) => {
        clearTimeout(timer);
        resolve({ exitCode: null, stdout: '', stderr: e.message });
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ exitCode: code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** A CommandRunner (ztunnel/capture) whose commands run inside `ns`. */
  commandRunner(ns: string): { run(file: string, args: readonly string[], opts?: { readonly input?: string; readonly timeoutMs?: number }): Promise<ExecResult> } {
    return { run: (file, args, opts) => this.exec(ns, file, args, opts) };
  }

  /** Starts a long-running process inside the namespace, with stdin/stdout/stderr piped; destroy() stops it. */
  spawn(ns: string, file: string, args: readonly string[]): NetnsProcess {
    if (this.destroyed) throw new Error('topology destroyed');
    // `ip netns exec` execs the program after setns, so the pid is the program's own.
    const child = spawn(ipTool(), ['netns', 'exec', ns, file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let exitReason: string | undefined;
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-maxStderrChars);
    });
    child.stdin?.on('error', () => undefined);
    const exited = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        exitReason = `failed to start: ${e.message}`;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitReason = signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
    });
    if (child.pid !== undefined) this.startedPids.add(child.pid);
    const proc: NetnsProcess = {
      ns,
      pid: child.pid,
      child,
      exitReason: () => exitReason,
      stderr: () => stderr,
      stop: async (graceMs = 2000) => {
        if (exitReason === undefined) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        child.stdin?.destroy();
        child.stdout?.destroy();
        child.stderr?.destroy();
        this.processes.delete(proc);
      },
    };
    this.processes.add(proc);
    return proc;
  }

  /** Stops every process, then deletes every namespace (their veths go with them). Safe twice. */
  async destroy(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.stop()));
    this.destroySync();
  }

  /** What of this topology still exists; all empty after destroy(). */
  leftovers(): Leftovers {
    const namespaces = listNamespaces().filter((n) => n.startsWith(this.prefix));
    const links = run(ipTool(), ['-o', 'link', 'show'])
      .stdout.split('\n')
      .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1] ?? '')
      .filter((n) => n.startsWith(this.prefix));
    const natRules: string[] = [];
    for (const ns of namespaces) {
      const save = run(ipTool(), ['netns', 'exec', ns, 'iptables-save', '-t', 'nat']).stdout;
      for (const l of save.split('\n')) if (l.includes('AMBIT')) natRules.push(`${ns}: ${l}`);
    }
    const processes = [...this.startedPids].filter(pidAlive);
    return { namespaces, links, natRules, processes };
  }

  private destroySync(): void {
    if (!this.destroyed) {
      this.destroyed = true;
      process.off('exit', this.onExit);
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
    }
    for (const p of this.processes) p.child.kill('SIGKILL');
    // Pods before nodes, newest first.
    for (const ns of [...this.namespaces].reverse()) {
      for (const pid of run(ipTool(), ['netns', 'pids', ns]).stdout.split('\n')) {
        if (/^\d+$/.test(pid)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      run(ipTool(), ['netns', 'del', ns]);
    }
    this.namespaces.length = 0;
  }

  private checkName(name: string): void {
    if (!namePattern.test(name)) throw new Error(`name ${JSON.stringify(name)} must match ${namePattern} (interface names are limited to 15 bytes)`);
    if (this.nodes.has(name) || this.pods.has(name)) throw new Error(`name ${name} is taken`);
  }

  private createNamespace(name: string): string {
    if (this.destroyed) throw new Error('topology destroyed');
    const ns = `${this.prefix}${name}`;
    mustRun(ipTool(), ['netns', 'add', ns]);
    this.namespaces.push(ns);
    this.ipIn(ns, ['link', 'set', 'lo', 'up']);
    return ns;
  }

  private node(name: string): NetnsNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node named ${name}`);
    return n;
  }

  private ipIn(ns: string, args: readonly string[]): void {
    mustRun(ipTool(), ['-n', ns, ...args]);
  }

  /** Routes on every node linked to the pod's node: pod/32 via that node. */
  private routeToPod(pod: NetnsPod): void {
    for (const { a, b } of this.links) {
      const [other, home] = a === pod.node ? [b, a] : b === pod.node ? [a, b] : [undefined, undefined];
      if (!other || !home) continue;
      const dev = `to-${home.name}`;
      const exists = run(ipTool(), ['-n', other.ns, 'route', 'show', `${pod.ip}/32`]).stdout.trim() !== '';
      if (!exists) this.ipIn(other.ns, ['route', 'add', `${pod.ip}/32`, 'via', home.ip, 'dev', dev, 'src', other.ip]);
    }
  }
}
