// ProxyLifecycle: what ztunnel and the waypoint share about being up and going down — the set of
// readiness conditions still pending (/healthz/ready answers 200 only when it is empty), the
// draining flag, one shutdown run however often it is asked for, and listeners told when it ended.

export class ProxyLifecycle {
  /** Conditions not met yet (e.g. config, certificates, listeners; `draining` once stopping). */
  readonly pending: Set<string>;
  private readonly name: string;
  private stopping = false;
  private stopped?: Promise<void>;
  private readonly stoppedListeners: (() => void)[] = [];

  constructor(name: string, pending: readonly string[]) {
    this.name = name;
    this.pending = new Set(pending);
  }

  /** Shutdown has begun: accept nothing new, retry nothing. */
  get draining(): boolean {
    return this.stopping;
  }

  /** Resolves when /healthz/ready would answer 200; fails naming what is pending after `timeoutMs`. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0) {
      if (Date.now() > deadline) throw new Error(`${this.name} not ready after ${timeoutMs} ms: ${[...this.pending].join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Runs `drainAndClose` once (later calls get the same promise), draining first; then the listeners. */
  stop(drainAndClose: () => Promise<void>): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.pending.add('draining');
    this.stopped = drainAndClose().then(() => {
      for (const l of this.stoppedListeners) l();
    });
    return this.stopped;
  }

  /** Called once a shutdown has finished. */
  onStopped(listener: () => void): void {
    this.stoppedListeners.push(listener);
  }
}
