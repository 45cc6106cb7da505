// IdleTimer: Node's Http2Session.setTimeout for the lean session — the callback runs once nothing
// was read or written for `ms`. Activity only stamps a time (no timer churn per frame); the timer
// re-checks when it wakes. setTimeout(0) turns it off, as in Node.
export class IdleTimer {
  private lastActivity = Date.now();
  private timer: NodeJS.Timeout | undefined;

  /** Something was read or written. */
  touch(): void {
    this.lastActivity = Date.now();
  }

  set(ms: number, cb: () => void): void {
    this.clear();
    if (!(ms > 0)) return;
    const check = (): void => {
      const quiet = Date.now() - this.lastActivity;
      if (quiet >= ms) {
        this.timer = undefined;
        return cb();
      }
      this.timer = setTimeout(check, ms - quiet);
      this.timer.unref();
    };
    this.timer = setTimeout(check, ms);
    this.timer.unref();
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
