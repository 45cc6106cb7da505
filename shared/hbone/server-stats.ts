// HboneServerStats: counts of what the HBONE server accepted and refused, by reason. Plain
// numbers readable by tests and the admin page; optionally mirrored into a prom-client registry.
import { Counter, Gauge, type Registry } from 'prom-client';

export class HboneServerStats {
  readonly connectionRejections = new Map<string, number>();
  readonly streamRejections = new Map<string, number>();
  sessionsOpen = 0;
  sessionsTotal = 0;
  streamsOpen = 0;
  streamsTotal = 0;
  streamsAccepted = 0;
  private readonly promRejected?: Counter<'reason'>;
  private readonly promStreamRejected?: Counter<'status' | 'reason'>;
  private readonly promSessions?: Gauge;

  constructor(registry?: Registry) {
    if (!registry) return;
    this.promRejected = new Counter({ name: 'ambit_hbone_connections_rejected_total', help: 'HBONE connections refused before any stream, by reason', labelNames: ['reason'], registers: [registry] });
    this.promStreamRejected = new Counter({ name: 'ambit_hbone_streams_rejected_total', help: 'HBONE CONNECT streams refused, by status and reason', labelNames: ['status', 'reason'], registers: [registry] });
    this.promSessions = new Gauge({ name: 'ambit_hbone_sessions', help: 'Open inbound HBONE sessions', registers: [registry] });
  }

  rejectConnection(reason: string): void {
    this.connectionRejections.set(reason, (this.connectionRejections.get(reason) ?? 0) + 1);
    this.promRejected?.inc({ reason });
  }

  /** Status 0 means the stream was reset rather than answered. */
  rejectStream(status: number, reason: string): void {
    const key = reason.split(':')[0]!;
    this.streamRejections.set(key, (this.streamRejections.get(key) ?? 0) + 1);
    this.promStreamRejected?.inc({ status: String(status), reason: key });
  }

  sessionOpened(): void {
    this.sessionsOpen++;
    this.sessionsTotal++;
    this.promSessions?.inc();
  }

  sessionClosed(): void {
    this.sessionsOpen--;
    this.promSessions?.dec();
  }

  streamOpened(): void {
    this.streamsOpen++;
    this.streamsTotal++;
  }

  streamClosed(): void {
    this.streamsOpen--;
  }

  streamAccepted(): void {
    this.streamsAccepted++;
  }
}
