// ConnectionDeadline: the one deadline a proxied connection waits under at a time (the next
// request's head, an idle keep-alive, a request body that must keep arriving), without a new
// Timeout per request. Each duration gets one Timeout for the connection's life, re-armed with
// refresh(); switching to another wait leaves the old Timeout to run out, and its firing is
// ignored because it no longer belongs to the current wait. Creating, inserting and cancelling
// two timers per request was a visible share of the waypoint's profile (bench/README.md).

export class ConnectionDeadline<K extends string> {
  private readonly onExpire: (kind: K) => void;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private kind: K | undefined;
  private ms = 0;

  constructor(onExpire: (kind: K) => void) {
    this.onExpire = onExpire;
  }

  /** Waits `ms` from now for `kind`, replacing the wait in progress. */
  arm(kind: K, ms: number): void {
    this.kind = kind;
    this.ms = ms;
    const t = this.timers.get(ms);
    if (t) t.refresh();
    else this.timers.set(ms, setTimeout(() => this.fired(ms), ms));
  }

  /** The current wait starts over (progress was made, e.g. body bytes arrived). */
  extend(): void {
    if (this.kind !== undefined) this.timers.get(this.ms)?.refresh();
  }

  /** No deadline until the next arm(). */
  disarm(): void {
    this.kind = undefined;
  }

  /** The connection is gone: every timer is cancelled. */
  dispose(): void {
    this.kind = undefined;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private fired(ms: number): void {
    const kind = this.kind;
    if (kind === undefined || this.ms !== ms) return; // a wait that was replaced or ended
    this.kind = undefined;
    this.onExpire(kind);
  }
}
