// ModelIndex: the lookups proxies make on every connection — workload by IP or uid, service by
// VIP or `namespace/hostname`, workloads by service account and by node — built once per model.
import { serviceKey, type MeshModel, type Service, type Workload } from './model.js';

export class ModelIndex {
  readonly workloadByUid = new Map<string, Workload>();
  readonly workloadByIp = new Map<string, Workload>();
  readonly serviceByVip = new Map<string, Service>();
  readonly serviceByKey = new Map<string, Service>();
  /** `namespace/serviceAccount` → workloads. */
  readonly workloadsByServiceAccount = new Map<string, Workload[]>();
  readonly workloadsByNode = new Map<string, Workload[]>();
  /** `namespace/hostname` → workloads backing that service. */
  readonly endpointsByService = new Map<string, Workload[]>();

  constructor(model: MeshModel) {
    for (const w of model.workloads) {
      this.workloadByUid.set(w.uid, w);
      // Host-network pods share the node's IP: they never own an address in the mesh.
      if (w.networkMode === 'STANDARD') for (const ip of w.addresses) this.workloadByIp.set(ip, w);
      push(this.workloadsByServiceAccount, `${w.namespace}/${w.serviceAccount}`, w);
      if (w.node !== undefined) push(this.workloadsByNode, w.node, w);
      for (const key of Object.keys(w.services)) push(this.endpointsByService, key, w);
    }
    for (const s of model.services) {
      this.serviceByKey.set(serviceKey(s), s);
      for (const vip of s.addresses) this.serviceByVip.set(vip, s);
    }
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
