// ChangeLog: what one compile step changed in one part of the model — per key, the object before
// the step and the one after it — so the step can report upserted objects and removed keys in the
// model's order. An object rebuilt equal to the one it replaces is kept (keepIfSame), so the log
// compares by identity and a rebuilt-but-equal object is no change.

export class ChangeLog<T> {
  private changes = new Map<string, { readonly before: T | undefined; after: T | undefined }>();

  record(key: string, before: T | undefined, after: T | undefined): void {
    const c = this.changes.get(key);
    if (c) c.after = after;
    else if (before !== after) this.changes.set(key, { before, after });
  }

  /** Upserted objects and removed keys, each in `compare` order of their keys; empties the log. */
  take(compare: (a: string, b: string) => number): { upserted: T[]; removed: string[] } {
    const upserted: T[] = [];
    const removed: string[] = [];
    for (const key of [...this.changes.keys()].sort(compare)) {
      const c = this.changes.get(key)!;
      if (c.after === c.before) continue;
      if (c.after === undefined) removed.push(key);
      else upserted.push(c.after);
    }
    this.changes = new Map();
    return { upserted, removed };
  }
}

/** `value` unless it serializes exactly like `previous` (what proxies receive): then `previous`. */
export function keepIfSame<T>(previous: T | undefined, value: T): T {
  return previous !== undefined && previous !== value && JSON.stringify(previous) === JSON.stringify(value) ? previous : value;
}
