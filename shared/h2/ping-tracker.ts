// PingTracker: the PINGs a lean session sent and not yet saw acknowledged (RFC 9113 §6.7), each
// with its callback and send time; Node's session.ping() callback shape.
export type PingCallback = (err: Error | null, durationMs: number, payload: Buffer) => void;

export class PingTracker {
  private readonly max: number;
  private readonly pending = new Map<number, { cb: PingCallback; sentAt: number }>();
  private counter = 0;

  constructor(maxOutstanding: number) {
    this.max = maxOutstanding;
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** The 8-byte payload of a new PING; throws when too many are outstanding. */
  start(cb: PingCallback): Buffer {
    if (this.pending.size >= this.max) throw new Error('too many outstanding pings');
    const key = (this.counter = (this.counter + 1) >>> 0);
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(key, 4);
    this.pending.set(key, { cb, sentAt: performance.now() });
    return payload;
  }

  /** A PING ACK arrived; one we did not send is ignored. */
  acked(payload: Buffer): void {
    if (payload.readUInt32BE(0) !== 0) return;
    const key = payload.readUInt32BE(4);
    const ping = this.pending.get(key);
    if (!ping) return;
    this.pending.delete(key);
    ping.cb(null, performance.now() - ping.sentAt, Buffer.from(payload));
  }

  /** The session ended: every outstanding callback gets an error. */
  failAll(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const { cb } of all) cb(new Error('the HTTP/2 session closed'), 0, Buffer.alloc(8));
  }
}
