// ConfigClient: a proxy's end of the config stream. Holds the replica of the model the proxy
// serves from; reconnects with exponential backoff and jitter (10 ms doubling to 15 s) and keeps
// serving the last config while disconnected; resumes from its last version; applies a snapshot
// as a diff against what it holds, so a control-plane restart never wipes state. Listeners get
// only real changes. A message that cannot be read at all is nacked and changes nothing; a
// malformed entry among good ones is rejected on its own (its last good version stays, the
// others apply) and the version is nacked naming it (reliability case 22).
import grpc, { type ChannelCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { serviceKey, type Authorization, type Service, type Workload } from '../config/model.js';
import { resourceKey } from '../config/resource-set.js';
import { waypointResourceKinds, type WaypointResource } from '../config/waypoint-resources.js';
import type { Logger } from '../log.js';
import { configServiceDefinition, type ClientMessage, type ConfigVersion, type ModelPayload, type ProxyKind, type ServerMessage, type VersionedChanges } from './config-protocol.js';

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

function validAuthorization(a: unknown): a is Authorization {
  const x = a as Partial<Authorization>;
  return typeof x?.name === 'string' && typeof x.scope === 'string' && typeof x.action === 'string' && Array.isArray(x.rules);
}

function validService(s: unknown): s is Service {
  const x = s as Partial<Service>;
  return typeof x?.hostname === 'string' && typeof x.namespace === 'string' && Array.isArray(x.addresses) && Array.isArray(x.ports);
}

function validWaypointResource(r: unknown): r is WaypointResource {
  const x = r as Partial<WaypointResource>;
  return typeof x?.kind === 'string' && waypointResourceKinds.has(x.kind) && typeof x.meta?.name === 'string' && typeof x.meta.namespace === 'string' && typeof x.spec === 'object' && x.spec !== null;
}

export class ConfigClient {
  readonly workloads = new Map<string, Workload>();
  /** Waypoints only: the L7 resources by `Kind/namespace/name`. */
  readonly waypointResources = new Map<string, WaypointResource>();
  readonly services = new Map<string, Service>();
  readonly authorizations = new Map<string, Authorization>();
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
    this.rejected = [];
    try {
      if ('snapshot' in msg && msg.snapshot) {
        version = msg.snapshot.version;
        applied = this.applySnapshot(msg.snapshot.version, msg.snapshot);
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
    if (this.rejected.length > 0) {
      const error = `rejected ${this.rejected.length} malformed entr${this.rejected.length === 1 ? 'y' : 'ies'} (last good versions kept): ${this.rejected.slice(0, 10).join(', ')}`;
      this.log.warn({ version, rejected: this.rejected }, 'config partly rejected (nack); the other entries applied');
      call.write({ nack: { version, error } });
    } else {
      call.write({ ack: { version } });
    }
    if (!this.connectedOnce) {
      this.connectedOnce = true;
      this.resolveFirst();
    }
    const sizes = [applied.upsertedWorkloads, applied.removedWorkloads, applied.upsertedServices, applied.removedServices, applied.upsertedAuthorizations, applied.removedAuthorizations, applied.upsertedWaypointResources ?? [], applied.removedWaypointResources ?? []];
    if (sizes.some((list) => list.length > 0)) {
      for (const l of this.listeners) l(applied);
    }
  }

  private applySnapshot(version: ConfigVersion, payload: ModelPayload): AppliedDelta {
    const { workloads, services, authorizations } = payload;
    if (!Array.isArray(workloads) || !Array.isArray(services) || !Array.isArray(authorizations)) throw new Error('snapshot lacks workloads, services or authorizations');
    const l7 = payload.waypointResources ?? [];
    if (!Array.isArray(l7)) throw new Error('snapshot has malformed waypointResources');
    const delta: AppliedDelta = {
      version,
      ...changesAgainst(this.workloads, this.keepGood(workloads, validWorkload, this.workloads, (w) => w.uid), (w) => w.uid, 'Workloads'),
      ...changesAgainst<Service, 'Services'>(this.services, this.keepGood(services, validService, this.services, serviceKey), serviceKey, 'Services'),
      ...changesAgainst(this.authorizations, this.keepGood(authorizations, validAuthorization, this.authorizations, (a) => a.name), (a) => a.name, 'Authorizations'),
      ...(this.opts.kind === 'waypoint' ? changesAgainst<WaypointResource, 'WaypointResources'>(this.waypointResources, this.keepGood(l7, validWaypointResource, this.waypointResources, resourceKey), resourceKey, 'WaypointResources') : {}),
    } as AppliedDelta;
    this.commit(delta);
    return delta;
  }

  private applyDelta(d: AppliedDelta): AppliedDelta {
    const parts = [d.upsertedWorkloads, d.removedWorkloads, d.upsertedServices, d.removedServices, d.upsertedAuthorizations, d.removedAuthorizations];
    if (parts.some((p) => !Array.isArray(p))) throw new Error('delta lacks a list');
    const l7 = [d.upsertedWaypointResources ?? [], d.removedWaypointResources ?? []];
    if (l7.some((p) => !Array.isArray(p))) throw new Error('delta has a malformed waypoint resource list');
    const good: AppliedDelta = {
      ...d,
      upsertedWorkloads: this.keepGood(d.upsertedWorkloads, validWorkload),
      upsertedServices: this.keepGood(d.upsertedServices, validService),
      upsertedAuthorizations: this.keepGood(d.upsertedAuthorizations, validAuthorization),
      ...(d.upsertedWaypointResources ? { upsertedWaypointResources: this.keepGood(d.upsertedWaypointResources, validWaypointResource) } : {}),
      removedWorkloads: d.removedWorkloads.filter((k) => typeof k === 'string'),
      removedServices: d.removedServices.filter((k) => typeof k === 'string'),
      removedAuthorizations: d.removedAuthorizations.filter((k) => typeof k === 'string'),
    };
    this.commit(good);
    return good;
  }

  /** Entries of this message that were malformed (a key or a JSON excerpt each). */
  private rejected: string[] = [];

  /**
   * The well-formed entries of `list`; each malformed one is noted in `rejected` and, in a snapshot
   * (`held` given), replaced by the version held, so it is neither removed nor changed.
   */
  private keepGood<T>(list: readonly unknown[], valid: (x: unknown) => x is T, held?: ReadonlyMap<string, T>, key?: (t: T) => string): T[] {
    const out: T[] = [];
    for (const x of list) {
      if (valid(x)) {
        out.push(x);
        continue;
      }
      let k: string | undefined;
      try {
        k = key ? key(x as T) : undefined;
      } catch {
        k = undefined;
      }
      this.rejected.push(typeof k === 'string' && !k.includes('undefined') ? k : JSON.stringify(x)?.slice(0, 80) ?? String(x));
      const prev = k !== undefined ? held?.get(k) : undefined;
      if (prev !== undefined) out.push(prev);
    }
    return out;
  }

  private commit(d: AppliedDelta): void {
    for (const w of d.upsertedWorkloads) this.workloads.set(w.uid, w);
    for (const uid of d.removedWorkloads) this.workloads.delete(uid);
    for (const s of d.upsertedServices) this.services.set(serviceKey(s), s);
    for (const key of d.removedServices) this.services.delete(key);
    for (const a of d.upsertedAuthorizations) this.authorizations.set(a.name, a);
    for (const name of d.removedAuthorizations) this.authorizations.delete(name);
    if (this.opts.kind !== 'waypoint') return;
    for (const r of d.upsertedWaypointResources ?? []) this.waypointResources.set(resourceKey(r), r);
    for (const key of d.removedWaypointResources ?? []) this.waypointResources.delete(key);
  }
}

/** What replacing `held` by `next` changes: upserted (new or different) and removed keys. */
function changesAgainst<T, N extends string>(held: ReadonlyMap<string, T>, next: readonly T[], key: (t: T) => string, noun: N): Record<`upserted${N}`, T[]> & Record<`removed${N}`, string[]> {
  const nextKeys = new Set(next.map(key));
  // A first snapshot has nothing to compare with.
  const upserted = held.size === 0 ? [...next] : next.filter((t) => JSON.stringify(held.get(key(t))) !== JSON.stringify(t));
  const removed = [...held.keys()].filter((k) => !nextKeys.has(k));
  return { [`upserted${noun}`]: upserted, [`removed${noun}`]: removed } as Record<`upserted${N}`, T[]> & Record<`removed${N}`, string[]>;
}
