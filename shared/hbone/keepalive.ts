// HTTP/2 PING keepalive for HBONE sessions, on both ends (ztunnel runs the same driver on its
// client and server): a PING every interval, and the session is declared dead when no ack came
// within the timeout. A PING is also a write, so it surfaces a peer reset Node had not noticed.
import type { EventEmitter } from 'node:events';

/** What the driver needs of a session: node:http2's and shared/h2's both have it. */
export interface PingableSession {
  readonly destroyed: boolean;
  ping(callback: (err: Error | null) => void): boolean;
}

export interface Keepalive {
  stop(): void;
}

export function startKeepalive(session: PingableSession, opts: { intervalMs: number; timeoutMs: number; onDead: () => void }): Keepalive {
  let lastAckAt = Date.now();
  const timer = setInterval(() => {
    if (session.destroyed) return clearInterval(timer);
    if (Date.now() - lastAckAt > opts.timeoutMs) {
      clearInterval(timer);
      opts.onDead();
      return;
    }
    try {
      session.ping((err) => {
        if (!err) lastAckAt = Date.now();
      });
    } catch {
      // Too many outstanding pings or session closing: the ack deadline decides.
    }
  }, opts.intervalMs);
  timer.unref();
  (session as unknown as EventEmitter).once('close', () => clearInterval(timer));
  return { stop: () => clearInterval(timer) };
}
