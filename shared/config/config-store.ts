// ConfigStore: the one place a process's mesh model lives. Sources write resources into its
// ResourceSet; every update hands the objects that changed to the ModelCompiler, which
// recomputes only what they reach, and when the model changed bumps the version, updates the
// index in place and tells subscribers exactly what was upserted and removed.
import type { ConfigError } from './config-error.js';
import type { CompileOptions } from './compile-model.js';
import { ModelCompiler } from './model-compiler.js';
import type { ModelIndex } from './model-index.js';
import { ModelIndexUpdater } from './model-index-updater.js';
import { serviceKey, type MeshModel, type ModelChanges } from './model.js';
import { resourceKey, ResourceSet, type ResourceChange } from './resource-set.js';
import { waypointResourceKinds, type WaypointResource } from './waypoint-resources.js';

export interface ModelDelta extends ModelChanges {
  readonly version: number;
}

export type ModelListener = (delta: ModelDelta) => void;

/** Everything that differs between two models, compared by serialized form (as proxies see it). */
export function diffModels(before: MeshModel, after: MeshModel): ModelChanges {
  const diff = <T>(a: readonly T[], b: readonly T[], key: (t: T) => string): { upserted: T[]; removed: string[] } => {
    const old = new Map(a.map((t) => [key(t), t]));
    const now = new Set(b.map(key));
    const upserted = b.filter((t) => {
      const o = old.get(key(t));
      return o !== t && (o === undefined || JSON.stringify(o) !== JSON.stringify(t));
    });
    return { upserted, removed: [...old.keys()].filter((k) => !now.has(k)) };
  };
  const w = diff(before.workloads, after.workloads, (x) => x.uid);
  const s = diff(before.services, after.services, serviceKey);
  const a = diff(before.authorizations, after.authorizations, (x) => x.name);
  return { upsertedWorkloads: w.upserted, removedWorkloads: w.removed, upsertedServices: s.upserted, removedServices: s.removed, upsertedAuthorizations: a.upserted, removedAuthorizations: a.removed };
}

export function isEmptyChange(c: ModelChanges): boolean {
  return (
    c.upsertedWorkloads.length + c.removedWorkloads.length + c.upsertedServices.length + c.removedServices.length + c.upsertedAuthorizations.length + c.removedAuthorizations.length +
      (c.upsertedWaypointResources?.length ?? 0) + (c.removedWaypointResources?.length ?? 0) ===
    0
  );
}

export class ConfigStore {
  readonly resources: ResourceSet;
  private readonly compileOptions: CompileOptions;
  private compiler: ModelCompiler;
  private indexUpdater: ModelIndexUpdater;
  /** A compile threw part-way: the next update compiles from scratch. */
  private compilerBroken = false;
  private readonly listeners = new Set<ModelListener>();
  private currentVersion = 0;
  /** The L7 resources in force, by `Kind/namespace/name`: what waypoints decide from. */
  private readonly l7 = new Map<string, WaypointResource>();
  private readonly l7Unpublished = new Set<string>();

  constructor(opts: CompileOptions & { defaultNamespace?: string }) {
    this.compileOptions = opts;
    this.resources = new ResourceSet(opts.defaultNamespace !== undefined ? { defaultNamespace: opts.defaultNamespace } : {});
    this.compiler = new ModelCompiler(opts);
    this.indexUpdater = new ModelIndexUpdater(this.compiler.model);
  }

  get model(): MeshModel {
    return this.compiler.model;
  }

  /** Lookups over the current model (kept up to date in place). */
  get index(): ModelIndex {
    return this.indexUpdater.index;
  }

  get version(): number {
    return this.currentVersion;
  }

  /** Input errors of the resources in force (each names file/object, field and reason). */
  get errors(): readonly ConfigError[] {
    return this.resources.errors();
  }

  get warnings(): readonly ConfigError[] {
    return this.compiler.warnings;
  }

  /** The L7 resources in force (AuthorizationPolicy, RequestAuthentication, VirtualService, ...). */
  get waypointResources(): ReadonlyMap<string, WaypointResource> {
    return this.l7;
  }

  subscribe(listener: ModelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `change` against the resources, recompiles what changed, and publishes a delta if the model changed. */
  update(change: (resources: ResourceSet) => void): ModelDelta | undefined {
    change(this.resources);
    const resourceChanges = this.resources.takeChanges();
    if (resourceChanges.length === 0 && !this.compilerBroken) return undefined;
    this.noteWaypointChanges(resourceChanges);
    const changes = { ...this.compile(resourceChanges), ...this.takeWaypointChanges() };
    if (isEmptyChange(changes)) return undefined;
    this.indexUpdater.apply(changes);
    this.currentVersion++;
    const delta: ModelDelta = { version: this.currentVersion, ...changes };
    for (const listener of this.listeners) listener(delta);
    return delta;
  }

  /**
   * Records the L7 part of a change (copied through as decoded: each waypoint compiles what
   * concerns it). Kept until published, so a compile that throws does not lose it.
   */
  private noteWaypointChanges(changes: readonly ResourceChange[]): void {
    for (const c of changes) {
      const kind = (c.after ?? c.before)?.kind;
      if (kind === undefined || !waypointResourceKinds.has(kind)) continue;
      const held = this.l7.get(c.key);
      if (c.after) this.l7.set(c.key, c.after as WaypointResource);
      else this.l7.delete(c.key);
      // A document re-read unchanged decodes to a new but equal object: nothing to tell waypoints.
      if (held && c.after && JSON.stringify(held) === JSON.stringify(c.after)) continue;
      this.l7Unpublished.add(c.key);
    }
  }

  private takeWaypointChanges(): Pick<ModelChanges, 'upsertedWaypointResources' | 'removedWaypointResources'> {
    if (this.l7Unpublished.size === 0) return {};
    const upserted: WaypointResource[] = [];
    const removed: string[] = [];
    for (const key of this.l7Unpublished) {
      const r = this.l7.get(key);
      if (r) upserted.push(r);
      else removed.push(key);
    }
    this.l7Unpublished.clear();
    return { upsertedWaypointResources: upserted, removedWaypointResources: removed };
  }

  private compile(changes: readonly ResourceChange[]): ModelChanges {
    if (!this.compilerBroken) {
      try {
        return this.compiler.apply(changes);
      } catch (err) {
        this.compilerBroken = true;
        throw err;
      }
    }
    // Compile everything again and publish the difference from what subscribers last got.
    const published = this.compiler.model;
    const compiler = new ModelCompiler(this.compileOptions);
    compiler.apply(this.resources.resolve().resources.map((r) => ({ key: resourceKey(r), before: undefined, after: r })));
    this.compiler = compiler;
    this.compilerBroken = false;
    const diff = diffModels(published, compiler.model);
    this.indexUpdater = new ModelIndexUpdater(published);
    return diff;
  }
}
