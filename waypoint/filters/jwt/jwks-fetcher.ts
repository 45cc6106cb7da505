// JwksFetcher: the key sets behind `jwksUri` rules, fetched, cached and refreshed in the background.
// Istio's istiod refetches every PILOT_JWT_PUB_KEY_REFRESH_INTERVAL (default 20 min) with a 5 s
// timeout (JWTRule.timeout); a failing refresh keeps the last good keys and retries with backoff
// (from Envoy's failed_refetch_duration default of 1 s). Before a first success there are no keys,
// so tokens for that issuer are refused: never accepted unverified.
import type { Clock, Timer } from '../../../shared/clock.js';
import type { Logger } from '../../../shared/log.js';
import { parseJwks, type Jwks } from './jwks.js';

export const defaultJwksRefreshIntervalMs = 20 * 60_000;
export const defaultJwksFetchTimeoutMs = 5_000;
/** Real key sets are a few KB; anything near this is not a JWKS. */
export const defaultMaxJwksBytes = 256 * 1024;
export const defaultJwksRetryMinMs = 1_000;
export const defaultJwksRetryMaxMs = 60_000;

/** The slice of `fetch` used: injectable so tests and the CLI can supply their own. */
export type FetchFn = (url: string, init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'error' }) => Promise<Response>;

export interface JwksFetcherOptions {
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly fetch?: FetchFn;
  readonly refreshIntervalMs?: number;
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

export type JwksLookup =
  | { readonly state: 'ready'; readonly jwks: Jwks }
  /** The first fetch is in flight: `whenSettled()` resolves when it ends. */
  | { readonly state: 'pending' }
  /** No fetch has succeeded yet; `reason` is the last failure. Retries continue in the background. */
  | { readonly state: 'failed'; readonly reason: string };

export interface JwksFetchStats {
  readonly attempts: number;
  readonly failures: number;
  readonly lastError?: string;
}

interface Entry {
  readonly uri: string;
  jwks?: Jwks;
  lastError?: string;
  inflight?: Promise<void>;
  timer?: Timer;
  consecutiveFailures: number;
  attempts: number;
  failures: number;
}

export class JwksFetcher {
  private readonly entries = new Map<string, Entry>();
  private readonly controllers = new Set<AbortController>();
  private closed = false;
  private readonly fetchFn: FetchFn;
  private readonly opts: JwksFetcherOptions;

  constructor(opts: JwksFetcherOptions) {
    this.opts = opts;
    this.fetchFn = opts.fetch ?? ((url, init) => globalThis.fetch(url, init));
  }

  /** The cached keys for `uri`, without waiting. The first lookup of a uri starts its fetch. */
  lookup(uri: string): JwksLookup {
    if (this.closed) return { state: 'failed', reason: 'jwks fetcher is closed' };
    let entry = this.entries.get(uri);
    if (!entry) {
      entry = { uri, consecutiveFailures: 0, attempts: 0, failures: 0 };
      this.entries.set(uri, entry);
      this.refresh(entry);
    }
    if (entry.jwks) return { state: 'ready', jwks: entry.jwks };
    if (entry.lastError === undefined) return { state: 'pending' };
    return { state: 'failed', reason: entry.lastError };
  }

  /** Like lookup(), but waits for an in-flight fetch of `uri` (bounded by the fetch timeout) first. */
  async whenSettled(uri: string): Promise<JwksLookup> {
    this.lookup(uri);
    const inflight = this.entries.get(uri)?.inflight;
    if (inflight) await inflight;
    return this.lookup(uri);
  }

  stats(uri: string): JwksFetchStats | undefined {
    const e = this.entries.get(uri);
    return e && { attempts: e.attempts, failures: e.failures, ...(e.lastError !== undefined ? { lastError: e.lastError } : {}) };
  }

  /** Stops refreshing `uri` and drops its keys (its rule left the configuration). */
  forget(uri: string): void {
    this.entries.get(uri)?.timer?.cancel();
    this.entries.delete(uri);
  }

  /** Cancels every timer and in-flight fetch. Lookups afterwards fail. */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) e.timer?.cancel();
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
  }

  private refresh(entry: Entry): void {
    if (this.closed || entry.inflight || this.entries.get(entry.uri) !== entry) return;
    entry.inflight = this.fetchOnce(entry).then((outcome) => {
      entry.inflight = undefined;
      entry.attempts++;
      if (this.closed) return;
      if ('jwks' in outcome) {
        entry.jwks = outcome.jwks;
        entry.lastError = undefined;
        entry.consecutiveFailures = 0;
        this.opts.logger?.debug({ uri: entry.uri, keys: outcome.jwks.keys.length }, 'jwks fetched');
        this.schedule(entry, this.opts.refreshIntervalMs ?? defaultJwksRefreshIntervalMs);
        return;
      }
      entry.failures++;
      entry.consecutiveFailures++;
      entry.lastError = outcome.reason;
      const base = this.opts.retryMinMs ?? defaultJwksRetryMinMs;
      const delayMs = Math.min(base * 2 ** (entry.consecutiveFailures - 1), this.opts.retryMaxMs ?? defaultJwksRetryMaxMs);
      this.opts.logger?.warn({ uri: entry.uri, reason: outcome.reason, keptKeys: entry.jwks !== undefined, retryMs: delayMs }, 'jwks fetch failed');
      this.schedule(entry, delayMs);
    });
  }

  private schedule(entry: Entry, delayMs: number): void {
    entry.timer?.cancel();
    entry.timer = this.opts.clock.setTimer(delayMs, () => this.refresh(entry));
  }

  /** One GET; every failure is a value. Resolves, never rejects. */
  private async fetchOnce(entry: Entry): Promise<{ jwks: Jwks } | { reason: string }> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(this.opts.timeoutMs ?? defaultJwksFetchTimeoutMs)]);
    const max = this.opts.maxResponseBytes ?? defaultMaxJwksBytes;
    try {
      const res = await this.fetchFn(entry.uri, { signal, headers: { accept: 'application/json' }, redirect: 'error' });
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        return { reason: `status ${res.status}` };
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > max) {
        await res.body?.cancel().catch(() => undefined);
        return { reason: `response of ${declared} bytes is over the ${max} byte limit` };
      }
      const body = await readLimited(res, max);
      if (typeof body !== 'string') return body;
      const parsed = parseJwks(body);
      return parsed.ok ? { jwks: parsed.jwks } : { reason: parsed.reason };
    } catch (err) {
      const e = err as Error;
      return { reason: e.name === 'TimeoutError' ? 'timed out' : `fetch failed: ${String(e.cause ?? e.message).slice(0, 160)}` };
    } finally {
      this.controllers.delete(controller);
    }
  }
}

async function readLimited(res: Response, max: number): Promise<string | { reason: string }> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return { reason: `response is over the ${max} byte limit` };
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
