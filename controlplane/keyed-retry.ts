// KeyedRetry: retries per key with exponential back-off (initial × 2^failures, capped), at most
// one pending retry per key, a warning per failure; the control plane's Kubernetes writers
// (waypoint reconciler, root-certificate publisher) use one each.
import type { Logger } from '../shared/log.js';

export interface Backoff {
  readonly initial: number;
  readonly max: number;
}

export class KeyedRetry {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private closed = false;
  private readonly log: Logger;
  private readonly message: string;
  private readonly backoff: Backoff;

  constructor(log: Logger, message: string, backoff: Backoff = { initial: 500, max: 10_000 }) {
    this.log = log;
    this.message = message;
    this.backoff = backoff;
  }

  /** Runs `fn` after the key's next back-off, unless one is already pending or we are closed. */
  schedule(key: string, err: unknown, fn: () => void): void {
    if (this.closed || this.timers.has(key)) return;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const ms = Math.min(this.backoff.max, this.backoff.initial * 2 ** n);
    const e = err as { code?: unknown; message?: unknown };
    this.log.warn({ target: key, code: e?.code, err: String(e?.message ?? err).split('\n')[0]!.slice(0, 300), retryMs: ms }, this.message);
    const t = setTimeout(() => {
      this.timers.delete(key);
      fn();
    }, ms);
    t.unref();
    this.timers.set(key, t);
  }

  /** The key succeeded: its next failure starts from the initial back-off. */
  succeeded(key: string): void {
    this.failures.delete(key);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
