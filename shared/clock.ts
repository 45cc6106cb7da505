// Clock: wall time and timers behind an interface, so certificate renewal and keepalive logic
// can be driven by a fake clock in tests. Real timers are unref()ed: they never hold the process.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  setTimer(delayMs: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer(delayMs, fn) {
    // setTimeout caps at 2^31-1 ms; longer waits re-arm (certificates can live for years).
    const maxDelayMs = 2_147_483_647;
    let handle: NodeJS.Timeout;
    const arm = (remainingMs: number): void => {
      const step = Math.min(Math.max(0, remainingMs), maxDelayMs);
      handle = setTimeout(() => (remainingMs > maxDelayMs ? arm(remainingMs - maxDelayMs) : fn()), step);
      handle.unref();
    };
    arm(delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A manual clock for tests: time moves only through advance(), which fires due timers in order. */
export class ManualClock implements Clock {
  private current: number;
  private timers: { atMs: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  nowMs(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry = { atMs: this.current + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(entry);
    return { cancel: () => { entry.cancelled = true; } };
  }

  pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.atMs <= target)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (!due) break;
      due.cancelled = true;
      this.current = due.atMs;
      due.fn();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.current = target;
  }
}
