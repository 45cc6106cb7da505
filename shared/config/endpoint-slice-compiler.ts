// EndpointSliceCompiler: the EndpointSlice part of ModelCompiler. It keeps the slices by service
// and, per service without a selector, its last buildSliceEndpoints() result, so a change
// recomputes only the services it reaches: a slice its old and new service, a service itself, a
// pod appearing or going the services whose slices target it. What a recompute changes goes
// back to ModelCompiler as pods to rebuild (their membership moved) and workload changes.
import { ChangeLog, keepIfSame } from './change-log.js';
import type { ConfigError } from './config-error.js';
import type { ModelOptions } from './model-builders.js';
import type { PortMapping, Service, Workload } from './model.js';
import { serviceNameLabel, type EndpointSliceResource, type ServiceResource } from './resources.js';
import { SetIndex } from './set-index.js';
import { buildSliceEndpoints, fqdnSliceWarning, type SliceEndpoints } from './slice-endpoints.js';
import { compareCodeUnits } from './sorted-list.js';

/** A service whose endpoints come from slices: one with no selector that is in the model. */
export interface SelectorlessService {
  readonly resource: ServiceResource;
  readonly service: Service;
}

function serviceOf(slice: EndpointSliceResource): string | undefined {
  const name = slice.meta.labels[serviceNameLabel];
  return name === undefined ? undefined : `${slice.meta.namespace}/${name}`;
}

export class EndpointSliceCompiler {
  private readonly opts: ModelOptions;
  private readonly slices = new Map<string, EndpointSliceResource>();
  /** `namespace/service` → keys of the slices labelled with it. */
  private readonly slicesByService = new SetIndex();
  /** `namespace/service` → its endpoints, for services without a selector that have any input. */
  private readonly results = new Map<string, SliceEndpoints>();
  /** Pod `namespace/name` → services whose slices target it. */
  private readonly servicesByPod = new SetIndex();
  private dirty = new Set<string>();

  constructor(opts: ModelOptions) {
    this.opts = opts;
  }

  sliceChanged(key: string, after: EndpointSliceResource | undefined): void {
    const before = this.slices.get(key);
    const oldService = before && serviceOf(before);
    if (oldService !== undefined) {
      this.slicesByService.remove(oldService, key);
      this.dirty.add(oldService);
    }
    if (!after) {
      this.slices.delete(key);
      return;
    }
    this.slices.set(key, after);
    const newService = serviceOf(after);
    if (newService !== undefined) {
      this.slicesByService.add(newService, key);
      this.dirty.add(newService);
    }
  }

  /** A Service (`namespace/name`) was added, changed (its selector, its ports) or removed. */
  serviceChanged(key: string): void {
    this.dirty.add(key);
  }

  /** A pod (`namespace/name`) appeared or went: its endpoints move between it and a workload. */
  podExistenceChanged(key: string): void {
    for (const s of this.servicesByPod.get(key)) this.dirty.add(s);
  }

  /**
   * Recomputes the services changes reached. Pods whose membership changed are added to
   * `dirtyPods`; endpoint workloads upserted or removed are recorded in `workloads`.
   */
  recompute(selectorless: (serviceKey: string) => SelectorlessService | undefined, isKnownPod: (podKey: string) => boolean, dirtyPods: Set<string>, workloads: ChangeLog<Workload>): void {
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty];
    this.dirty = new Set();
    // Every old workload is withdrawn before any new one is recorded: a slice relabelled from one
    // service to another keeps its workload uids, and the log must see remove-then-add.
    const old = new Map<string, Workload>();
    for (const key of keys) {
      const before = this.results.get(key);
      if (!before) continue;
      for (const w of before.workloads) {
        old.set(w.uid, w);
        workloads.record(w.uid, w, undefined);
      }
      for (const pod of before.podRefs) this.servicesByPod.remove(pod, key);
      for (const pod of before.pods.keys()) dirtyPods.add(pod);
      this.results.delete(key);
    }
    for (const key of keys) {
      const svc = selectorless(key);
      if (!svc) continue;
      const slices = [...this.slicesByService.get(key)].map((k) => this.slices.get(k)!).sort((a, b) => compareCodeUnits(a.meta.name, b.meta.name));
      const built = buildSliceEndpoints(svc.resource, svc.service, slices, isKnownPod, this.opts);
      const kept = built.workloads.map((w) => keepIfSame(old.get(w.uid), w));
      for (const w of kept) workloads.record(w.uid, undefined, w);
      for (const pod of built.podRefs) this.servicesByPod.add(pod, key);
      for (const pod of built.pods.keys()) dirtyPods.add(pod);
      this.results.set(key, { ...built, workloads: kept });
    }
  }

  /** The services (by `namespace/hostname`) the pod backs through slices, with its ports. */
  membershipOf(podKey: string): [string, readonly PortMapping[]][] {
    const out: [string, readonly PortMapping[]][] = [];
    for (const s of this.servicesByPod.get(podKey)) {
      const r = this.results.get(s);
      const ports = r?.pods.get(podKey);
      if (r && ports) out.push([r.serviceKey, ports]);
    }
    return out;
  }

  warnings(): ConfigError[] {
    const out: ConfigError[] = [];
    for (const key of [...this.slices.keys()].sort(compareCodeUnits)) {
      const w = fqdnSliceWarning(this.slices.get(key)!);
      if (w) out.push(w);
    }
    for (const key of [...this.results.keys()].sort(compareCodeUnits)) out.push(...this.results.get(key)!.warnings);
    return out;
  }
}
