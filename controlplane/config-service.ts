// ConfigService: serves the ConfigStore to proxies over the config stream (shared/xds). Keeps
// the last deltas so a reconnecting proxy of this epoch gets only what it missed; anyone else
// gets a snapshot. Acks and nacks are logged and kept per subscriber for the admin views.
import { randomBytes } from 'node:crypto';
import type { ServerDuplexStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { ConfigStore, ModelDelta } from '../shared/config/config-store.js';
import type { Logger } from '../shared/log.js';
import type { ClientMessage, ConfigVersion, ServerMessage } from '../shared/xds/config-protocol.js';

export interface Subscriber {
  readonly node: string;
  readonly kind: string;
  ackedVersion?: ConfigVersion;
  lastNack?: { version: ConfigVersion; error: string };
}

export class ConfigService {
  readonly epoch = randomBytes(6).toString('hex');
  private readonly store: ConfigStore;
  private readonly log: Logger;
  /** Recent deltas with their wire message, built once and written to every subscriber. */
  private readonly history: { delta: ModelDelta; message: ServerMessage }[] = [];
  private readonly deltaListeners = new Set<(message: ServerMessage) => void>();
  private snapshotCache?: { n: number; message: ServerMessage };
  private readonly historySize: number;
  private readonly subscribers = new Set<Subscriber>();
  private readonly unsubscribeStore: () => void;

  constructor(opts: { store: ConfigStore; logger: Logger; historySize?: number }) {
    this.store = opts.store;
    this.log = opts.logger;
    this.historySize = opts.historySize ?? 256;
    this.unsubscribeStore = this.store.subscribe((delta) => {
      const message: ServerMessage = { delta: { ...delta, version: { epoch: this.epoch, n: delta.version } } };
      this.history.push({ delta, message });
      if (this.history.length > this.historySize) this.history.shift();
      for (const send of this.deltaListeners) send(message);
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
    return { subscribe: (call: ServerDuplexStream<ClientMessage, ServerMessage>) => this.onSubscribe(call) };
  }

  private onSubscribe(call: ServerDuplexStream<ClientMessage, ServerMessage>): void {
    let subscriber: Subscriber | undefined;
    let stopForwarding: (() => void) | undefined;
    const end = (): void => {
      stopForwarding?.();
      stopForwarding = undefined;
      if (subscriber) {
        this.subscribers.delete(subscriber);
        this.log.info({ node: subscriber.node, kind: subscriber.kind }, 'config subscriber left');
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
        this.sendInitial(call, lastVersion);
        const forward = (message: ServerMessage): void => void call.write(message);
        this.deltaListeners.add(forward);
        stopForwarding = () => this.deltaListeners.delete(forward);
        this.log.info({ node, kind, resumeFrom: lastVersion }, 'config subscriber joined');
      } else if ('ack' in msg && msg.ack && subscriber) {
        subscriber.ackedVersion = msg.ack.version;
      } else if ('nack' in msg && msg.nack && subscriber) {
        subscriber.lastNack = msg.nack;
        this.log.warn({ node: subscriber.node, version: msg.nack.version, error: msg.nack.error }, 'config nacked by proxy');
      }
    });
  }

  /** Deltas since `lastVersion` when this epoch still has them all, else a snapshot. */
  private sendInitial(call: ServerDuplexStream<ClientMessage, ServerMessage>, lastVersion: ConfigVersion | undefined): void {
    const current = this.store.version;
    if (lastVersion?.epoch === this.epoch && lastVersion.n <= current) {
      const missed = this.history.filter((h) => h.delta.version > lastVersion.n);
      const complete = lastVersion.n === current || missed[0]?.delta.version === lastVersion.n + 1;
      if (complete) {
        for (const h of missed) call.write(h.message);
        return;
      }
    }
    if (this.snapshotCache?.n !== current) {
      const model = this.store.model;
      this.snapshotCache = { n: current, message: { snapshot: { version: this.version(), workloads: model.workloads, services: model.services, authorizations: model.authorizations } } };
    }
    call.write(this.snapshotCache.message);
  }
}
