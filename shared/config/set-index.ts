// SetIndex: keys (a namespace, a `namespace, label=value`, a service account) to the sets of
// members (pod, service or policy keys) filed under them; an emptied set is dropped.

export class SetIndex {
  private readonly sets = new Map<string, Set<string>>();

  add(key: string, member: string): void {
    const set = this.sets.get(key);
    if (set) set.add(member);
    else this.sets.set(key, new Set([member]));
  }

  remove(key: string, member: string): void {
    const set = this.sets.get(key);
    if (!set) return;
    set.delete(member);
    if (set.size === 0) this.sets.delete(key);
  }

  get(key: string): ReadonlySet<string> {
    return this.sets.get(key) ?? empty;
  }
}

const empty: ReadonlySet<string> = new Set();
