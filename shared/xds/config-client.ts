// ConfigClient: a proxy's end of the config stream. Holds the replica of the model the proxy
// serves from; reconnects with exponential backoff and jitter (10 ms doubling to 15 s) and keeps
// serving the last config while disconnected; resumes from its last version; applies a snapshot
// as a diff against what it holds, so a control-plane restart never wipes state. Listeners get
// only real changes. A message that cannot be applied is nacked and changes nothing.
import grpc, { type ChannelCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { serviceKey, type Service, type Workload } from '../config/model.js';
import type { Logger } from '../log.js';
import { configServiceDefinition, type ClientMessage, type ConfigVersion, type ProxyKind, type ServerMessage, type VersionedChanges } from './config-protocol.js';

/** What a message changed in the replica (a snapshot is reported as its diff). */
export type AppliedDelta = VersionedChanges;

export interface ConfigClientOptions {
  readonly address: string;
  readonly credentials: ChannelCredentials;
  readonly node: string;
  readonly kind: ProxyKind;
  readonly logger: Logger;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly channelOptions?: grpc.ChannelOptions;
}

const ConfigServiceClient = grpc.makeGenericClientConstructor(configServiceDefinition, 'ConfigService');

function validWorkload(w: unknown): w is Workload {
  const x = w as Partial<Workload>;
  return typeof x?.uid === 'string' && typeof x.namespace === 'string' && Array.isArray(x.addresses) && typeof x.serviceAccount === 'string';
}

function validService(s: unknown): s is Service {
  const x = s as Partial<Service>;
  return typeof x?.hostname === 'string' && typeof x.namespace === 'string' && Array.isArray(x.addresses) && Array.isArray(x.ports);
}

export class ConfigClient {
  readonly workloads = new Map<string, Workload>();
  readonly services = new Map<string, Service>();
  private version?: ConfigVersion;
  private readonly opts: ConfigClientOptions;
  private readonly log: Logger;
  private readonly client: grpc.Client & { subscribe(): ClientDuplexStream<ClientMessage, ServerMessage> };
  private readonly listeners = new Set<(d: AppliedDelta) => void>();
  private call?: ClientDuplexStream<ClientMessage, ServerMessage>;
  private backoffMs: number;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private connectedOnce = false;
  private readonly firstConfig: Promise<void>;
  private resolveFirst!: () => void;
  /** Reconnect attempts so far (for tests and the admin page). */
  reconnects = 0;

  constructor(opts: ConfigClientOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.backoffMs = opts.initialBackoffMs ?? 10;
    this.client = new ConfigServiceClient(opts.address, opts.credentials, { 'grpc.max_receive_message_length': 64 * 1024 * 1024, ...opts.channelOptions }) as unknown as ConfigClient['client'];
    this.firstConfig = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  currentVersion(): ConfigVersion | undefined {
    return this.version;
  }

  /** Resolves once the first snapshot (or resumed delta) has been applied. */
  ready(): Promise<void> {
    return this.firstConfig;
  }

  onChange(listener: (d: AppliedDelta) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.connect();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.call?.cancel();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    const call = this.client.subscribe();
    this.call = call;
    let gotMessage = false;
    call.on('data', (msg: ServerMessage) => {
      if (!gotMessage) {
        gotMessage = true;
        this.backoffMs = this.opts.initialBackoffMs ?? 10; // healthy again
      }
      this.onMessage(call, msg);
    });
    const retry = (why: string): void => {
      if (this.call !== call || this.closed) return;
      this.call = undefined;
      this.scheduleReconnect(why);
    };
    call.on('error', (err) => retry(err.message));
    call.on('end', () => retry('stream ended'));
    call.write({ subscribe: { node: this.opts.node, kind: this.opts.kind, ...(this.version ? { lastVersion: this.version } : {}) } });
  }

  private scheduleReconnect(why: string): void {
    const max = this.opts.maxBackoffMs ?? 15_000;
    const delay = Math.random() * this.backoffMs; // full jitter: no herd when the control plane returns
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    this.reconnects++;
    this.log.info({ why, delayMs: Math.round(delay), version: this.version }, 'config stream lost; serving last config, reconnecting');
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.retryTimer.unref();
  }

  private onMessage(call: ClientDuplexStream<ClientMessage, ServerMessage>, msg: ServerMessage): void {
    let applied: AppliedDelta | undefined;
    let version: ConfigVersion | undefined;
    try {
      if ('snapshot' in msg && msg.snapshot) {
        version = msg.snapshot.version;
        applied = this.applySnapshot(msg.snapshot.version, msg.snapshot.workloads, msg.snapshot.services);
      } else if ('delta' in msg && msg.delta) {
        version = msg.delta.version;
        applied = this.applyDelta(msg.delta);
      } else {
        throw new Error('message is neither snapshot nor delta');
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, version }, 'config rejected (nack); keeping the last config');
      if (version) call.write({ nack: { version, error: (err as Error).message } });
      return;
    }
    this.version = version;
    call.write({ ack: { version } });
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      this.resolveFirst();
    }
    if (applied.upsertedWorkloads.length + applied.removedWorkloads.length + applied.upsertedServices.length + applied.removedServices.length > 0) {
      for (const l of this.listeners) l(applied);
    }
  }

  private applySnapshot(version: ConfigVersion, workloads: readonly Workload[], services: readonly Service[]): AppliedDelta {
    if (!Array.isArray(workloads) || !Array.isArray(services)) throw new Error('snapshot lacks workloads or services');
    const bad = workloads.find((w) => !validWorkload(w)) ?? services.find((s) => !validService(s));
    if (bad !== undefined) throw new Error(`malformed entry in snapshot: ${JSON.stringify(bad).slice(0, 120)}`);
    const nextW = new Map(workloads.map((w) => [w.uid, w]));
    const nextS = new Map(services.map((s) => [serviceKey(s), s]));
    if (this.workloads.size === 0 && this.services.size === 0) {
      // First snapshot: everything is new, nothing to compare.
      const delta: AppliedDelta = { version, upsertedWorkloads: workloads, removedWorkloads: [], upsertedServices: services, removedServices: [] };
      this.commit(delta);
      return delta;
    }
    const delta: AppliedDelta = {
      version,
      upsertedWorkloads: workloads.filter((w) => JSON.stringify(this.workloads.get(w.uid)) !== JSON.stringify(w)),
      removedWorkloads: [...this.workloads.keys()].filter((k) => !nextW.has(k)),
      upsertedServices: services.filter((s) => JSON.stringify(this.services.get(serviceKey(s))) !== JSON.stringify(s)),
      removedServices: [...this.services.keys()].filter((k) => !nextS.has(k)),
    };
    this.commit(delta);
    return delta;
  }

  private applyDelta(d: AppliedDelta): AppliedDelta {
    const parts = [d.upsertedWorkloads, d.removedWorkloads, d.upsertedServices, d.removedServices];
    if (parts.some((p) => !Array.isArray(p))) throw new Error('delta lacks a list');
    const bad = d.upsertedWorkloads.find((w) => !validWorkload(w)) ?? d.upsertedServices.find((s) => !validService(s));
    if (bad !== undefined) throw new Error(`malformed entry in delta: ${JSON.stringify(bad).slice(0, 120)}`);
    this.commit(d);
    return d;
  }

  private commit(d: AppliedDelta): void {
    for (const w of d.upsertedWorkloads) this.workloads.set(w.uid, w);
    for (const uid of d.removedWorkloads) this.workloads.delete(uid);
    for (const s of d.upsertedServices) this.services.set(serviceKey(s), s);
    for (const key of d.removedServices) this.services.delete(key);
  }
}
