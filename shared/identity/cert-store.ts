// CertStore: one certificate per identity, fetched on first use, renewed at half-life, with
// concurrent fetches for an identity coalesced. A failed renewal keeps the current certificate
// (retrying with backoff 500 ms → 150 s, as ztunnel's SecretManager); an expired certificate is
// never served: get() then fails closed.
import { systemClock, type Clock, type Timer } from '../clock.js';
import { ErrorCode, MeshError } from '../errors.js';
import { formatIdentity, type Identity } from './spiffe.js';
import type { WorkloadCertificate } from './workload-certificate.js';

export type CertificateFetcher = (identity: Identity, signal: AbortSignal) => Promise<WorkloadCertificate>;

export interface CertStoreOptions {
  readonly fetch: CertificateFetcher;
  readonly clock?: Clock;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Called after every successful fetch (first or renewal), e.g. to rebuild TLS contexts. */
  readonly onUpdate?: (cert: WorkloadCertificate) => void;
  readonly onError?: (identity: Identity, err: unknown) => void;
}

interface Entry {
  identity: Identity;
  current?: WorkloadCertificate;
  inflight?: Promise<WorkloadCertificate>;
  timer?: Timer;
  backoffMs: number;
}

export function refreshAtMs(cert: WorkloadCertificate): number {
  return cert.notBeforeMs + (cert.notAfterMs - cert.notBeforeMs) / 2;
}

export class CertStore {
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private readonly fetchCert: CertificateFetcher;
  private readonly clock: Clock;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly onUpdate: ((cert: WorkloadCertificate) => void) | undefined;
  private readonly onError: ((identity: Identity, err: unknown) => void) | undefined;

  constructor(opts: CertStoreOptions) {
    this.fetchCert = opts.fetch;
    this.clock = opts.clock ?? systemClock;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 150_000;
    this.onUpdate = opts.onUpdate;
    this.onError = opts.onError;
  }

  /** The valid certificate for `identity`, fetching it if there is none. Rejects rather than serve an expired one. */
  async get(identity: Identity): Promise<WorkloadCertificate> {
    const entry = this.entry(identity);
    const current = entry.current;
    if (current && this.clock.nowMs() < current.notAfterMs) {
      // Renewal is timer-driven (half-life, then backoff); only a lost timer is re-armed here,
      // so a down CA is not hammered by every connection.
      if (this.clock.nowMs() >= refreshAtMs(current) && !entry.timer && !entry.inflight) void this.refresh(entry).catch(() => undefined);
      return current;
    }
    const fresh = await this.refresh(entry);
    if (this.clock.nowMs() >= fresh.notAfterMs) {
      throw new MeshError(ErrorCode.CertificateExpired, `certificate for ${formatIdentity(identity)} is expired`);
    }
    return fresh;
  }

  /** The current certificate if one is held and unexpired, without fetching. */
  peek(identity: Identity): WorkloadCertificate | undefined {
    const current = this.entries.get(formatIdentity(identity))?.current;
    return current && this.clock.nowMs() < current.notAfterMs ? current : undefined;
  }

  /** Stops renewing `identity` and drops its certificate (its workloads left the node). */
  forget(identity: Identity): void {
    const key = formatIdentity(identity);
    this.entries.get(key)?.timer?.cancel();
    this.entries.delete(key);
  }

  identities(): Identity[] {
    return [...this.entries.values()].filter((e) => e.current).map((e) => e.identity);
  }

  close(): void {
    this.abort.abort();
    for (const e of this.entries.values()) e.timer?.cancel();
    this.entries.clear();
  }

  private entry(identity: Identity): Entry {
    const key = formatIdentity(identity);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { identity, backoffMs: this.initialBackoffMs };
      this.entries.set(key, entry);
    }
    return entry;
  }

  /** One fetch in flight per identity: every caller during a fetch shares its promise. */
  private refresh(entry: Entry): Promise<WorkloadCertificate> {
    if (entry.inflight) return entry.inflight;
    const run = async (): Promise<WorkloadCertificate> => {
      try {
        const cert = await this.fetchCert(entry.identity, this.abort.signal);
        if (formatIdentity(cert.identity) !== formatIdentity(entry.identity)) {
          throw new MeshError(ErrorCode.IdentityMismatch, `fetched certificate is for ${formatIdentity(cert.identity)}`);
        }
        entry.current = cert;
        entry.backoffMs = this.initialBackoffMs;
        // A fetch that lands after close() or forget() must not re-arm renewal.
        if (this.isLive(entry)) this.schedule(entry, Math.max(0, refreshAtMs(cert) - this.clock.nowMs()));
        this.onUpdate?.(cert);
        return cert;
      } catch (err) {
        this.onError?.(entry.identity, err);
        if (this.isLive(entry)) {
          this.schedule(entry, entry.backoffMs);
          entry.backoffMs = Math.min(entry.backoffMs * 2, this.maxBackoffMs);
        }
        throw new MeshError(ErrorCode.CertificateUnavailable, `cannot fetch certificate for ${formatIdentity(entry.identity)}`, { cause: err });
      }
    };
    const inflight = run();
    entry.inflight = inflight;
    const clear = (): void => {
      if (entry.inflight === inflight) entry.inflight = undefined;
    };
    inflight.then(clear, clear);
    return inflight;
  }

  private schedule(entry: Entry, delayMs: number): void {
    entry.timer?.cancel();
    entry.timer = this.clock.setTimer(delayMs, () => {
      entry.timer = undefined;
      if (this.isLive(entry)) void this.refresh(entry).catch(() => undefined);
    });
  }

  private isLive(entry: Entry): boolean {
    return !this.abort.signal.aborted && this.entries.get(formatIdentity(entry.identity)) === entry;
  }
}
