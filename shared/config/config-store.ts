// ConfigStore: the one place a process's mesh model lives. Sources write resources into its
// ResourceSet; every update recompiles the model, and when anything changed bumps the version,
// rebuilds the index and tells subscribers exactly what was upserted and removed.
import type { ConfigError } from './config-error.js';
import { compileModel, type CompileOptions } from './compile-model.js';
import { ModelIndex } from './model-index.js';
import { serviceKey, type MeshModel, type ModelChanges, type Service, type Workload } from './model.js';
import { ResourceSet } from './resource-set.js';

export interface ModelDelta extends ModelChanges {
  readonly version: number;
}

export type ModelListener = (delta: ModelDelta) => void;

function diff<T>(before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>): { upserted: T[]; removed: string[] } {
  const upserted: T[] = [];
  const removed: string[] = [];
  for (const [key, value] of after) {
    const old = before.get(key);
    if (old !== value && (old === undefined || JSON.stringify(old) !== JSON.stringify(value))) upserted.push(value);
  }
  for (const key of before.keys()) if (!after.has(key)) removed.push(key);
  return { upserted, removed };
}

export class ConfigStore {
  readonly resources: ResourceSet;
  private readonly compileOptions: CompileOptions;
  private readonly listeners = new Set<ModelListener>();
  private currentModel: MeshModel = { workloads: [], services: [], authorizations: [] };
  private currentIndex = new ModelIndex(this.currentModel);
  private currentVersion = 0;
  private currentErrors: ConfigError[] = [];
  private currentWarnings: ConfigError[] = [];

  constructor(opts: CompileOptions & { defaultNamespace?: string }) {
    this.compileOptions = opts;
    this.resources = new ResourceSet(opts.defaultNamespace !== undefined ? { defaultNamespace: opts.defaultNamespace } : {});
  }

  get model(): MeshModel {
    return this.currentModel;
  }

  get index(): ModelIndex {
    return this.currentIndex;
  }

  get version(): number {
    return this.currentVersion;
  }

  /** Input errors of the resources in force (each names file/object, field and reason). */
  get errors(): readonly ConfigError[] {
    return this.currentErrors;
  }

  get warnings(): readonly ConfigError[] {
    return this.currentWarnings;
  }

  subscribe(listener: ModelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `change` against the resources, recompiles, and publishes a delta if the model changed. */
  update(change: (resources: ResourceSet) => void): ModelDelta | undefined {
    change(this.resources);
    const { resources, errors } = this.resources.resolve();
    const { model, warnings } = compileModel(resources, this.compileOptions);
    this.currentErrors = errors;
    this.currentWarnings = warnings;
    const workloads = diff(new Map(this.currentModel.workloads.map((w) => [w.uid, w])), new Map(model.workloads.map((w) => [w.uid, w])));
    const services = diff(new Map(this.currentModel.services.map((s) => [serviceKey(s), s])), new Map(model.services.map((s) => [serviceKey(s), s])));
    const authorizations = diff(new Map(this.currentModel.authorizations.map((a) => [a.name, a])), new Map(model.authorizations.map((a) => [a.name, a])));
    const changed = [workloads, services, authorizations].some((d) => d.upserted.length + d.removed.length > 0);
    if (!changed) return undefined;
    this.currentModel = model;
    this.currentIndex = new ModelIndex(model);
    this.currentVersion++;
    const delta: ModelDelta = {
      version: this.currentVersion,
      upsertedWorkloads: workloads.upserted,
      removedWorkloads: workloads.removed,
      upsertedServices: services.upserted,
      removedServices: services.removed,
      upsertedAuthorizations: authorizations.upserted,
      removedAuthorizations: authorizations.removed,
    };
    for (const listener of this.listeners) listener(delta);
    return delta;
  }
}
