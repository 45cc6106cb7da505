// ModelIndexUpdater: keeps a ModelIndex equal to `new ModelIndex(model)` as ModelChanges arrive,
// in place, at a cost proportional to the change. The rules of the full build hold: lists keep
// model order (by uid), and an IP or VIP claimed twice belongs to the last claimant in model
// order (highest uid / service key), so claimants of shared addresses are remembered.
import { ModelIndex } from './model-index.js';
import { serviceKey, type MeshModel, type ModelChanges, type Service, type Workload } from './model.js';
import { compareCodeUnits, searchSorted } from './sorted-list.js';

const byUid = (w: Workload): string => w.uid;

/** Address → every claimant, kept only while more than one object claims it. */
class SharedAddresses<T> {
  private readonly claimants = new Map<string, Map<string, T>>();
  private readonly owners: Map<string, T>;
  private readonly keyOf: (t: T) => string;

  constructor(owners: Map<string, T>, keyOf: (t: T) => string) {
    this.owners = owners;
    this.keyOf = keyOf;
  }

  claim(address: string, item: T): void {
    const key = this.keyOf(item);
    const owner = this.owners.get(address);
    if (owner === undefined) {
      this.owners.set(address, item);
      return;
    }
    let all = this.claimants.get(address);
    if (!all) {
      all = new Map([[this.keyOf(owner), owner]]);
      this.claimants.set(address, all);
    }
    all.set(key, item);
    if (compareCodeUnits(this.keyOf(owner), key) <= 0) this.owners.set(address, item);
  }

  release(address: string, item: T): void {
    const all = this.claimants.get(address);
    if (!all) {
      if (this.owners.get(address) === item) this.owners.delete(address);
      return;
    }
    all.delete(this.keyOf(item));
    let last: T | undefined;
    for (const [k, t] of all) if (last === undefined || compareCodeUnits(this.keyOf(last), k) < 0) last = t;
    this.owners.set(address, last!);
    if (all.size === 1) this.claimants.delete(address);
  }
}

export class ModelIndexUpdater {
  readonly index: ModelIndex;
  private readonly ips: SharedAddresses<Workload>;
  private readonly vips: SharedAddresses<Service>;

  constructor(model: MeshModel) {
    this.index = new ModelIndex({ workloads: [], services: [], authorizations: [] });
    this.ips = new SharedAddresses(this.index.workloadByIp, byUid);
    this.vips = new SharedAddresses(this.index.serviceByVip, serviceKey);
    this.apply({ upsertedWorkloads: model.workloads, removedWorkloads: [], upsertedServices: model.services, removedServices: [], upsertedAuthorizations: [], removedAuthorizations: [] });
  }

  apply(changes: ModelChanges): void {
    const idx = this.index;
    for (const uid of changes.removedWorkloads) {
      const w = idx.workloadByUid.get(uid);
      if (w) this.removeWorkload(w);
    }
    for (const w of changes.upsertedWorkloads) {
      const old = idx.workloadByUid.get(w.uid);
      if (old) this.removeWorkload(old);
      this.addWorkload(w);
    }
    for (const key of changes.removedServices) {
      const s = idx.serviceByKey.get(key);
      if (s) this.removeService(s);
    }
    for (const s of changes.upsertedServices) {
      const old = idx.serviceByKey.get(serviceKey(s));
      if (old) this.removeService(old);
      this.addService(s);
    }
  }

  private addWorkload(w: Workload): void {
    const idx = this.index;
    idx.workloadByUid.set(w.uid, w);
    // Host-network pods share the node's IP: they never own an address in the mesh.
    if (w.networkMode === 'STANDARD') for (const ip of distinct(w.addresses)) this.ips.claim(ip, w);
    insert(idx.workloadsByServiceAccount, `${w.namespace}/${w.serviceAccount}`, w);
    if (w.node !== undefined) insert(idx.workloadsByNode, w.node, w);
    for (const key of Object.keys(w.services)) insert(idx.endpointsByService, key, w);
  }

  private removeWorkload(w: Workload): void {
    const idx = this.index;
    idx.workloadByUid.delete(w.uid);
    if (w.networkMode === 'STANDARD') for (const ip of distinct(w.addresses)) this.ips.release(ip, w);
    remove(idx.workloadsByServiceAccount, `${w.namespace}/${w.serviceAccount}`, w);
    if (w.node !== undefined) remove(idx.workloadsByNode, w.node, w);
    for (const key of Object.keys(w.services)) remove(idx.endpointsByService, key, w);
  }

  private addService(s: Service): void {
    this.index.serviceByKey.set(serviceKey(s), s);
    for (const vip of distinct(s.addresses)) this.vips.claim(vip, s);
  }

  private removeService(s: Service): void {
    this.index.serviceByKey.delete(serviceKey(s));
    for (const vip of distinct(s.addresses)) this.vips.release(vip, s);
  }
}

function distinct(addresses: readonly string[]): readonly string[] {
  return addresses.length < 2 ? addresses : [...new Set(addresses)];
}

function insert(map: Map<string, Workload[]>, key: string, w: Workload): void {
  const list = map.get(key);
  if (!list) {
    map.set(key, [w]);
    return;
  }
  const i = searchSorted(list, w.uid, byUid, compareCodeUnits);
  if (i >= 0) list[i] = w;
  else list.splice(-i - 1, 0, w);
}

function remove(map: Map<string, Workload[]>, key: string, w: Workload): void {
  const list = map.get(key);
  if (!list) return;
  const i = searchSorted(list, w.uid, byUid, compareCodeUnits);
  if (i < 0 || list[i] !== w) return;
  list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}
