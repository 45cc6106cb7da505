// WaypointState: what a waypoint decides from — the workload model (ModelIndex) and the L7
// resources — rebuilt whenever its source changes. The source is the control plane's config
// stream (ConfigClient, subscribed as a waypoint) or, with `--config FILE` and in tests, an
// in-process ConfigStore. Listeners read `current` per request; the compiled L7 config is built
// once per change by the compiler the Waypoint passes in.
import type { ConfigStore } from '../shared/config/config-store.js';
import { ModelIndex } from '../shared/config/model-index.js';
import type { MeshModel } from '../shared/config/model.js';
import { groupWaypointResources, type WaypointResource, type WaypointResources } from '../shared/config/waypoint-resources.js';
import type { ConfigClient } from '../shared/xds/config-client.js';

export interface WaypointSource {
  ready(): Promise<void>;
  model(): MeshModel;
  resources(): Iterable<WaypointResource>;
  version(): string;
  onChange(listener: () => void): () => void;
  close(): void;
}

export interface WaypointView<C> {
  readonly index: ModelIndex;
  readonly resources: WaypointResources;
  readonly version: string;
  /** The L7 configuration compiled from the two above. */
  readonly compiled: C;
}

export class WaypointState<C> {
  private view: WaypointView<C>;
  private readonly listeners = new Set<(view: WaypointView<C>) => void>();
  private readonly unsubscribe: () => void;
  readonly source: WaypointSource;
  private readonly compile: (index: ModelIndex, resources: WaypointResources) => C;

  constructor(source: WaypointSource, compile: (index: ModelIndex, resources: WaypointResources) => C) {
    this.source = source;
    this.compile = compile;
    this.view = this.build();
    this.unsubscribe = source.onChange(() => {
      this.view = this.build();
      for (const l of this.listeners) l(this.view);
    });
  }

  get current(): WaypointView<C> {
    return this.view;
  }

  ready(): Promise<void> {
    return this.source.ready();
  }

  onChange(listener: (view: WaypointView<C>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
    this.source.close();
  }

  private build(): WaypointView<C> {
    const index = new ModelIndex(this.source.model());
    const resources = groupWaypointResources(this.source.resources());
    return { index, resources, version: this.source.version(), compiled: this.compile(index, resources) };
  }
}

/** The control plane's config stream (subscribed with kind `waypoint`) as a source. */
export function configClientSource(client: ConfigClient): WaypointSource {
  return {
    ready: () => client.ready(),
    model: () => ({ workloads: [...client.workloads.values()], services: [...client.services.values()], authorizations: [...client.authorizations.values()] }),
    resources: () => client.waypointResources.values(),
    version: () => {
      const v = client.currentVersion();
      return v ? `${v.epoch}/${v.n}` : 'none';
    },
    onChange: (listener) => client.onChange(() => listener()),
    close: () => client.close(),
  };
}

/** An in-process ConfigStore (local file mode, tests) as a source. */
export function configStoreSource(store: ConfigStore, onClose: () => void = () => undefined): WaypointSource {
  return {
    ready: async () => undefined,
    model: () => store.model,
    resources: () => store.waypointResources.values(),
    version: () => `local/${store.version}`,
    onChange: (listener) => store.subscribe(() => listener()),
    close: onClose,
  };
}
