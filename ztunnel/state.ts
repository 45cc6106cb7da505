// ZtunnelState: the model a ztunnel decides from — one ModelIndex plus the L4 Authorizations,
// rebuilt whenever its source changes. The source is the control plane's config stream
// (ConfigClient) or, with `--config FILE`, an in-process ConfigStore fed by the file source.
// Listeners read `current` on every connection; change listeners are told after each rebuild.
import type { ConfigStore } from '../shared/config/config-store.js';
import { ModelIndex } from '../shared/config/model-index.js';
import type { Authorization, MeshModel, ModelChanges, Workload } from '../shared/config/model.js';
import type { ConfigClient } from '../shared/xds/config-client.js';

export interface StateView {
  readonly index: ModelIndex;
  readonly authorizations: ReadonlyMap<string, Authorization>;
  /** A label for logs and /config_dump: the config version this view was built from. */
  readonly version: string;
}

/** What kinds of thing changed, so connection re-checks run only when they could matter. */
export interface StateChange {
  readonly workloads: boolean;
  readonly services: boolean;
  readonly authorizations: boolean;
}

export interface ModelSource {
  /** Resolves once the first configuration is in. */
  ready(): Promise<void>;
  model(): MeshModel;
  version(): string;
  onChange(listener: (change: StateChange) => void): () => void;
  close(): void;
}

export class ZtunnelState {
  private view: StateView;
  private readonly listeners = new Set<(view: StateView, change: StateChange) => void>();
  private readonly unsubscribe: () => void;
  readonly source: ModelSource;

  constructor(source: ModelSource) {
    this.source = source;
    this.view = build(source);
    this.unsubscribe = source.onChange((change) => {
      this.view = build(source);
      for (const l of this.listeners) l(this.view, change);
    });
  }

  get current(): StateView {
    return this.view;
  }

  ready(): Promise<void> {
    return this.source.ready();
  }

  onChange(listener: (view: StateView, change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Enrolled (HBONE) workloads scheduled on `node`. */
  localWorkloads(node: string): Workload[] {
    return (this.view.index.workloadsByNode.get(node) ?? []).filter((w) => w.tunnelProtocol === 'HBONE' && w.networkMode === 'STANDARD');
  }

  close(): void {
    this.unsubscribe();
    this.source.close();
  }
}

function build(source: ModelSource): StateView {
  const model = source.model();
  return { index: new ModelIndex(model), authorizations: new Map(model.authorizations.map((a) => [a.name, a])), version: source.version() };
}

function changeOf(d: ModelChanges): StateChange {
  return {
    workloads: d.upsertedWorkloads.length + d.removedWorkloads.length > 0,
    services: d.upsertedServices.length + d.removedServices.length > 0,
    authorizations: d.upsertedAuthorizations.length + d.removedAuthorizations.length > 0,
  };
}

/** The control plane's config stream as a model source. */
export function configClientSource(client: ConfigClient): ModelSource {
  return {
    ready: () => client.ready(),
    model: () => ({ workloads: [...client.workloads.values()], services: [...client.services.values()], authorizations: [...client.authorizations.values()] }),
    version: () => {
      const v = client.currentVersion();
      return v ? `${v.epoch}/${v.n}` : 'none';
    },
    onChange: (listener) =>
      client.onChange((d) => listener(changeOf(d))),
    close: () => client.close(),
  };
}

/** An in-process ConfigStore (local file mode, tests) as a model source. */
export function configStoreSource(store: ConfigStore, onClose: () => void = () => undefined): ModelSource {
  return {
    ready: async () => undefined,
    model: () => store.model,
    version: () => `local/${store.version}`,
    onChange: (listener) =>
      store.subscribe((d) => listener(changeOf(d))),
    close: onClose,
  };
}
