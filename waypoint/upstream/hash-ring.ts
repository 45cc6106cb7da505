// HashRing: consistent hashing for DestinationRule consistentHash (Envoy's RING_HASH, Istio's
// default for consistentHash). A key goes to the first point clockwise of its hash. Unlike Envoy,
// which gives each host ceil(min_ring_size / N) points (so a host leaving also reshuffles keys
// among the others), every host here owns a fixed number of points: removing a host moves only
// the keys it held, about 1/N of them.

/** FNV-1a over UTF-16 code units, then MurmurHash3's fmix32 finaliser to spread the bits. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Points per host: 256 keeps each host's share within about ±15 % of 1/N for any N. */
export const defaultPointsPerHost = 256;

export class HashRing {
  /** The hosts, in the order given to build(). */
  readonly hosts: readonly string[];
  private readonly points: Uint32Array;
  private readonly owners: Uint32Array;

  private constructor(hosts: readonly string[], points: Uint32Array, owners: Uint32Array) {
    this.hosts = hosts;
    this.points = points;
    this.owners = owners;
  }

  /** A ring over `hosts` (distinct keys). The same set gives the same ring whatever the order. */
  static build(hosts: readonly string[], pointsPerHost = defaultPointsPerHost): HashRing {
    const replicas = Math.max(1, Math.floor(pointsPerHost) || 1);
    const entries: { point: number; owner: number }[] = [];
    hosts.forEach((host, owner) => {
      for (let i = 0; i < replicas; i++) entries.push({ point: hash32(`${host}_${i}`), owner });
    });
    // Ties (rare) are broken by host key so the ring does not depend on the input order.
    entries.sort((a, b) => a.point - b.point || compare(hosts[a.owner]!, hosts[b.owner]!));
    return new HashRing(hosts, Uint32Array.from(entries, (e) => e.point), Uint32Array.from(entries, (e) => e.owner));
  }

  /** The host owning `hash` (a hash32 value), or undefined for an empty ring. */
  lookup(hash: number): string | undefined {
    const { points } = this;
    if (points.length === 0) return undefined;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    const at = lo === points.length ? 0 : lo;
    return this.hosts[this.owners[at]!];
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
