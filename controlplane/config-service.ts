// ConfigService: serves the ConfigStore to proxies over the config stream (shared/xds). Keeps
// the last deltas so a reconnecting proxy of this epoch gets only what it missed; anyone else
// gets a snapshot. Each message is built and serialized once for every subscriber. Snapshots are
// admitted a few at a time: grpc-js frames every message in a fresh copy, so a reconnect storm
// of N proxies would otherwise hold N copies of the whole model in memory at once. Waypoints also
// get the L7 resources; ztunnels get the same versions without them. Acks and nacks are logged
// and kept per subscriber for the admin views.
import { randomBytes } from 'node:crypto';
import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConfigStore, ModelDelta } from '../shared/config/config-store.js';
import type { Logger } from '../shared/log.js';
import type { ClientMessage, ConfigVersion, ProxyKind, ServerMessage } from '../shared/xds/config-protocol.js';

export interface Subscriber {
  readonly node: string;
  readonly kind: string;
  ackedVersion?: ConfigVersion;
  lastNack?: { version: ConfigVersion; error: string };
}

export interface ConfigServiceOptions {
  readonly store: ConfigStore;
  readonly logger: Logger;
  /** Deltas kept for resuming subscribers. */
  readonly historySize?: number;
  /** Snapshots written at the same time (each is a copy of the whole model until sent). */
  readonly maxConcurrentSnapshots?: number;
  /** A snapshot write that has not completed after this long stops holding its slot. */
  readonly snapshotSlotMs?: number;
}

type Call = ServerDuplexStream<ClientMessage, ServerMessage>;

/** One subscription's stream: deltas flow once it has been sent a starting version. */
interface Stream {
  readonly call: Call;
  readonly kind: ProxyKind;
  /** Version the stream has been brought to; undefined while it waits for its snapshot. */
  sentVersion?: number;
  closed: boolean;
  /** Frees a held snapshot slot (set while its snapshot is being written). */
  releaseSlot?: () => void;
}

export class ConfigService {
  readonly epoch = randomBytes(6).toString('hex');
  private readonly store: ConfigStore;
  private readonly log: Logger;
  /** Recent deltas with their wire message, built once and written to every subscriber. */
  private readonly history: { delta: ModelDelta; messages: Record<ProxyKind, ServerMessage> }[] = [];
  private readonly streams = new Set<Stream>();
  private readonly snapshotCache = new Map<ProxyKind, { n: number; message: ServerMessage }>();
  private readonly historySize: number;
  private readonly maxConcurrentSnapshots: number;
  private readonly snapshotSlotMs: number;
  private snapshotsInFlight = 0;
  private readonly snapshotQueue: Stream[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly unsubscribeStore: () => void;

  constructor(opts: ConfigServiceOptions) {
    this.store = opts.store;
    this.log = opts.logger;
    this.historySize = opts.historySize ?? 256;
    this.maxConcurrentSnapshots = opts.maxConcurrentSnapshots ?? 4;
    this.snapshotSlotMs = opts.snapshotSlotMs ?? 10_000;
    this.unsubscribeStore = this.store.subscribe((delta) => {
      const version = { epoch: this.epoch, n: delta.version };
      const { upsertedWaypointResources, removedWaypointResources, ...l4 } = delta;
      // A ztunnel gets every version (possibly empty) so its acks and resumes stay in step.
      const messages = { waypoint: { delta: { ...delta, version } }, ztunnel: { delta: { ...l4, version } } };
      this.history.push({ delta, messages });
      if (this.history.length > this.historySize) this.history.shift();
      for (const stream of this.streams) {
        if (stream.sentVersion === undefined || stream.sentVersion >= delta.version) continue;
        stream.sentVersion = delta.version;
        stream.call.write(messages[stream.kind]);
      }
    });
  }

  subscriberList(): readonly Subscriber[] {
    return [...this.subscribers];
  }

  close(): void {
    this.unsubscribeStore();
  }

  version(): ConfigVersion {
    return { epoch: this.epoch, n: this.store.version };
  }

  implementation(): UntypedServiceImplementation {
    return { subscribe: (call: Call) => this.onSubscribe(call) };
  }

  private onSubscribe(call: Call): void {
    let subscriber: Subscriber | undefined;
    let stream: Stream | undefined;
    const end = (): void => {
      if (stream) {
        stream.closed = true;
        this.streams.delete(stream);
        stream.releaseSlot?.();
        stream = undefined;
      }
      if (subscriber) {
        this.subscribers.delete(subscriber);
        this.log.info({ node: subscriber.node, kind: subscriber.kind }, 'config subscriber left');
        subscriber = undefined;
      }
    };
    call.on('error', (err) => this.log.debug({ err: err.message }, 'config stream error'));
    call.on('cancelled', end);
    call.on('close', end);
    call.on('end', () => {
      end();
      call.end();
    });
    call.on('data', (msg: ClientMessage) => {
      if ('subscribe' in msg && msg.subscribe && !subscriber) {
        const { node, kind, lastVersion } = msg.subscribe;
        if (typeof node !== 'string' || (kind !== 'ztunnel' && kind !== 'waypoint')) {
          this.log.warn({ node, kind }, 'config subscribe refused: bad node or kind');
          call.end();
          return;
        }
        subscriber = { node, kind };
        this.subscribers.add(subscriber);
        stream = { call, kind, closed: false };
        this.streams.add(stream);
        this.sendInitial(stream, lastVersion);
        this.log.info({ node, kind, resumeFrom: lastVersion }, 'config subscriber joined');
      } else if ('ack' in msg && msg.ack && subscriber) {
        subscriber.ackedVersion = msg.ack.version;
      } else if ('nack' in msg && msg.nack && subscriber) {
        subscriber.lastNack = msg.nack;
        this.log.warn({ node: subscriber.node, version: msg.nack.version, error: msg.nack.error }, 'config nacked by proxy');
      }
    });
  }

  /** Deltas since `lastVersion` when this epoch still has them all, else a snapshot (when admitted). */
  private sendInitial(stream: Stream, lastVersion: ConfigVersion | undefined): void {
    const current = this.store.version;
    if (lastVersion?.epoch === this.epoch && lastVersion.n <= current) {
      const missed = this.history.filter((h) => h.delta.version > lastVersion.n);
      const complete = lastVersion.n === current || missed[0]?.delta.version === lastVersion.n + 1;
      if (complete) {
        for (const h of missed) stream.call.write(h.messages[stream.kind]);
        stream.sentVersion = current;
        return;
      }
    }
    this.snapshotQueue.push(stream);
    this.admitSnapshots();
  }

  /** Starts queued snapshots while fewer than the limit are being written. */
  private admitSnapshots(): void {
    while (this.snapshotsInFlight < this.maxConcurrentSnapshots && this.snapshotQueue.length > 0) {
      const stream = this.snapshotQueue.shift()!;
      if (!stream.closed) this.writeSnapshot(stream);
    }
  }

  private writeSnapshot(stream: Stream): void {
    this.snapshotsInFlight++;
    let held = true;
    const timer = setTimeout(() => release(), this.snapshotSlotMs);
    timer.unref();
    const release = (): void => {
      if (!held) return;
      held = false;
      clearTimeout(timer);
      stream.releaseSlot = undefined;
      this.snapshotsInFlight--;
      this.admitSnapshots();
    };
    stream.releaseSlot = release;
    const current = this.store.version;
    let cached = this.snapshotCache.get(stream.kind);
    if (cached?.n !== current) {
      const model = this.store.model;
      const l7 = stream.kind === 'waypoint' ? { waypointResources: [...this.store.waypointResources.values()] } : {};
      cached = { n: current, message: { snapshot: { version: this.version(), workloads: model.workloads, services: model.services, authorizations: model.authorizations, ...l7 } } };
      this.snapshotCache.set(stream.kind, cached);
    }
    stream.sentVersion = current;
    // The callback runs once grpc-js has handed the framed copy to HTTP/2 (flow control permitting).
    stream.call.write(cached.message, () => release());
  }
}
