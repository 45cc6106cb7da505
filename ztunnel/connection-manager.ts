// ConnectionManager: every connection ztunnel carries, from accept to close — for
// /config_dump, for draining on SIGTERM, and for policy: inbound connections are registered
// *before* their authorization is checked (ztunnel's order, so a policy change can never slip in
// between), and re-checked whenever policy or workloads change; the now-denied ones are closed
// (`connection closed due to policy change`), the others are left alone.
import type { Identity } from '../shared/identity/spiffe.js';
import type { SocketAddress } from './orig-dst.js';

export type Direction = 'inbound' | 'inbound_plaintext' | 'outbound';

export interface TrackedConnection {
  readonly id: number;
  readonly direction: Direction;
  readonly src: SocketAddress;
  /** The original destination the client asked for. */
  readonly originalDst: SocketAddress;
  /** Where ztunnel actually connects (pod, waypoint or 15008 next hop). */
  readonly actualDst?: SocketAddress;
  readonly protocol: 'HBONE' | 'TCP';
  readonly peer?: Identity;
  /** uid of the local destination workload (inbound). */
  readonly workloadUid?: string;
  readonly openedAtMs: number;
  /** Closes the connection (the reason goes to the log and metrics). */
  close(reason: string): void;
}

/** Returns a reason to close the connection, or undefined to keep it. */
export type Recheck = (c: TrackedConnection) => string | undefined;

export class ConnectionManager {
  private nextId = 1;
  private readonly live = new Map<number, TrackedConnection>();
  private readonly drained = new Set<() => void>();

  register(c: Omit<TrackedConnection, 'id' | 'openedAtMs'>): TrackedConnection {
    // One literal with every field, in one order: `{ ...c, id }` over callers' literals (built with
    // a conditional spread and a closure) gave each of 10,000s of live connections its own hidden
    // class (a Map + DescriptorArray, ~0.3 KB each in heap snapshots).
    const tracked: TrackedConnection = {
      id: this.nextId++,
      direction: c.direction,
      src: c.src,
      originalDst: c.originalDst,
      actualDst: c.actualDst,
      protocol: c.protocol,
      peer: c.peer,
      workloadUid: c.workloadUid,
      openedAtMs: Date.now(),
      close: c.close,
    };
    this.live.set(tracked.id, tracked);
    return tracked;
  }

  release(c: TrackedConnection): void {
    if (!this.live.delete(c.id)) return;
    if (this.live.size === 0) for (const done of this.drained) done();
  }

  get size(): number {
    return this.live.size;
  }

  list(): TrackedConnection[] {
    return [...this.live.values()];
  }

  /** Re-checks every connection; closes those `check` refuses. Returns how many were closed. */
  recheck(check: Recheck): number {
    let closed = 0;
    for (const c of [...this.live.values()]) {
      const reason = check(c);
      if (reason !== undefined) {
        closed++;
        c.close(reason);
      }
    }
    return closed;
  }

  /** Resolves when no connection is left, or after `deadlineMs` (then reports how many were). */
  async waitForDrain(deadlineMs: number): Promise<number> {
    if (this.live.size === 0) return 0;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.drained.delete(done);
        resolve();
      };
      const timer = setTimeout(done, deadlineMs);
      this.drained.add(done);
    });
    return this.live.size;
  }

  closeAll(reason: string): void {
    for (const c of [...this.live.values()]) c.close(reason);
  }
}
