// Resolving the host names that routing resources use to the model's Services: Istio hosts (short
// name in the resource's namespace, `name.ns`, `name.ns.svc`, FQDN, a VIP, or a `*.suffix`
// wildcard) and Gateway API Service references (name + namespace).
import { isIP } from 'node:net';
import type { ModelIndex } from '../../shared/config/model-index.js';
import { serviceKey, type Service } from '../../shared/config/model.js';

export interface HostResolution {
  readonly services: readonly Service[];
  /** 0 for an exact name or VIP; otherwise how many characters a wildcard left unmatched (smaller is more specific). */
  readonly wildcardSlack: number;
}

export class ServiceLookup {
  private readonly byNameNs = new Map<string, Service>();
  private readonly byHostname = new Map<string, Service>();
  private readonly all: Service[] = [];

  private readonly index: ModelIndex;

  constructor(index: ModelIndex) {
    this.index = index;
    for (const s of index.serviceByKey.values()) {
      this.byNameNs.set(`${s.name}.${s.namespace}`, s);
      this.byHostname.set(s.hostname.toLowerCase(), s);
      this.all.push(s);
    }
    this.all.sort((a, b) => compareText(serviceKey(a), serviceKey(b)));
  }

  byKey(key: string): Service | undefined {
    return this.index.serviceByKey.get(key);
  }

  /** A Gateway API backendRef / parentRef of kind Service. */
  byRef(name: string, namespace: string): Service | undefined {
    return this.byNameNs.get(`${name}.${namespace}`);
  }

  /** An Istio host as written in a VirtualService or DestinationRule in `namespace`. */
  resolveHost(host: string, namespace: string): HostResolution {
    const h = host.toLowerCase();
    if (isIP(h) !== 0) {
      const s = this.index.serviceByVip.get(h);
      return { services: s ? [s] : [], wildcardSlack: 0 };
    }
    if (h.startsWith('*')) {
      const suffix = h.slice(1);
      return {
        services: this.all.filter((s) => s.hostname.toLowerCase().endsWith(suffix)),
        wildcardSlack: Math.max(1, 253 - suffix.length),
      };
    }
    const exact = this.byHostname.get(h);
    if (exact) return { services: [exact], wildcardSlack: 0 };
    const labels = h.split('.');
    let s: Service | undefined;
    if (labels.length === 1) s = this.byNameNs.get(`${h}.${namespace}`);
    else if (labels.length === 2 || (labels.length === 3 && labels[2] === 'svc')) s = this.byNameNs.get(`${labels[0]}.${labels[1]}`);
    return { services: s ? [s] : [], wildcardSlack: 0 };
  }
}

/** Plain code-unit order, locale-independent, for stable tie-breaks. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
