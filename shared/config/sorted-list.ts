// Copy-on-write edits of the model's sorted lists: a few changes cost a binary search and a
// splice each, many (a first load) one merge. The input list is never modified, so a model
// someone still holds (a snapshot being written) stays as it was.

export type KeyCompare = (a: string, b: string) => number;

export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of `key` in `list` (sorted by `keyOf` under `compare`), or -(insertion point) - 1. */
export function searchSorted<T>(list: readonly T[], key: string, keyOf: (t: T) => string, compare: KeyCompare): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compare(keyOf(list[mid]!), key);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -lo - 1;
}

/** `items` in order: sorted only when they are not already (changes usually come sorted). */
function sorted<T>(items: T[], compare: (a: T, b: T) => number): T[] {
  for (let i = 1; i < items.length; i++) if (compare(items[i - 1]!, items[i]!) > 0) return items.sort(compare);
  return items;
}

/** `list` with `upserts` put in place (replacing equal keys) and `removals` taken out, as a new array. */
export function withChanges<T>(list: readonly T[], upserts: readonly T[], removals: readonly string[], keyOf: (t: T) => string, compare: KeyCompare): T[] {
  const changes = upserts.length + removals.length;
  if (changes <= 64 || changes * 16 <= list.length) {
    const out = list.slice();
    for (const key of removals) {
      const i = searchSorted(out, key, keyOf, compare);
      if (i >= 0) out.splice(i, 1);
    }
    for (const item of upserts) {
      const i = searchSorted(out, keyOf(item), keyOf, compare);
      if (i >= 0) out[i] = item;
      else out.splice(-i - 1, 0, item);
    }
    return out;
  }
  // Many changes: one merge of two sorted sequences.
  const adds = sorted(upserts.map((item) => ({ key: keyOf(item), item })), (a, b) => compare(a.key, b.key));
  const drops = sorted([...removals], compare);
  const out: T[] = [];
  let a = 0;
  let d = 0;
  for (const item of list) {
    const key = keyOf(item);
    while (a < adds.length && compare(adds[a]!.key, key) < 0) out.push(adds[a++]!.item);
    while (d < drops.length && compare(drops[d]!, key) < 0) d++;
    if (a < adds.length && compare(adds[a]!.key, key) === 0) out.push(adds[a++]!.item);
    else if (!(d < drops.length && compare(drops[d]!, key) === 0)) out.push(item);
  }
  while (a < adds.length) out.push(adds[a++]!.item);
  return out;
}
