// Header operations as plain data ({set, add, remove}) and the one pure function that applies
// them to a `[name, value][]` list. Gateway API HTTPHeaderFilter and Istio HeaderOperations both
// compile to this; the executor applies request ops upstream and response ops downstream.

export type HeaderList = readonly (readonly [string, string])[];

export interface HeaderOps {
  /** Replace every value of the header with this one (names lower-case). */
  readonly set: readonly (readonly [string, string])[];
  /** Append one more value, keeping existing ones (Envoy append_action APPEND_IF_EXISTS_OR_ADD). */
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export const noHeaderOps: HeaderOps = Object.freeze({ set: [], add: [], remove: [] });

export function headerOps(set: Iterable<readonly [string, string]>, add: Iterable<readonly [string, string]>, remove: Iterable<string>): HeaderOps {
  const lower = ([n, v]: readonly [string, string]): readonly [string, string] => [n.toLowerCase(), v];
  return { set: [...set].map(lower), add: [...add].map(lower), remove: [...remove].map((n) => n.toLowerCase()) };
}

/** Ops of `a` then ops of `b` (a route's headers, then its chosen destination's, as Istio layers them). */
export function concatHeaderOps(a: HeaderOps, b: HeaderOps): HeaderOps {
  if (isEmptyHeaderOps(b)) return a;
  if (isEmptyHeaderOps(a)) return b;
  return { set: [...a.set, ...b.set], add: [...a.add, ...b.add], remove: [...a.remove, ...b.remove] };
}

export function isEmptyHeaderOps(ops: HeaderOps): boolean {
  return ops.set.length === 0 && ops.add.length === 0 && ops.remove.length === 0;
}

/**
 * A new list with `ops` applied: removals first, then sets, then additions. Envoy evaluates
 * headers_to_remove before headers_to_add (HeaderParser), so a header both removed and added ends
 * up added. Names compare case-insensitively (RFC 9110 §5.1); the order of untouched headers is
 * kept and a set header takes the position of its first occurrence.
 */
export function applyHeaderOps(headers: HeaderList, ops: HeaderOps): [string, string][] {
  if (isEmptyHeaderOps(ops)) return headers.map(([n, v]) => [n, v]);
  const removed = new Set(ops.remove.map((n) => n.toLowerCase()));
  let out: [string, string][] = headers.filter(([n]) => !removed.has(n.toLowerCase())).map(([n, v]) => [n, v]);
  for (const [name, value] of ops.set) {
    const lower = name.toLowerCase();
    const at = out.findIndex(([n]) => n.toLowerCase() === lower);
    out = out.filter(([n], i) => i === at || n.toLowerCase() !== lower);
    if (at === -1) out.push([lower, value]);
    else out[out.findIndex(([n]) => n.toLowerCase() === lower)] = [lower, value];
  }
  for (const [name, value] of ops.add) out.push([name.toLowerCase(), value]);
  return out;
}
