// TokenBucket: Envoy's local rate limit bucket (envoy.filters.http.local_ratelimit,
// token_bucket {max_tokens, tokens_per_fill, fill_interval}), driven by a Clock.
// The bucket starts full; every whole fill interval adds tokens_per_fill, capped at max_tokens.
// A request takes one token; an empty bucket means the request is limited (the filter answers 429).
import type { Clock } from '../../shared/clock.js';

export interface TokenBucketSettings {
  readonly maxTokens: number;
  /** Envoy's default is 1. */
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** Envoy refuses a fill_interval under 50 ms (local_ratelimit proto validation). */
export const minFillIntervalMs = 50;

/** Why `settings` cannot make a bucket, or undefined when they can. */
export function tokenBucketSettingsError(settings: TokenBucketSettings): string | undefined {
  const { maxTokens, tokensPerFill, fillIntervalMs } = settings;
  if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) return `maxTokens must be a whole number >= 1, got ${maxTokens}`;
  if (!Number.isSafeInteger(tokensPerFill) || tokensPerFill < 1) return `tokensPerFill must be a whole number >= 1, got ${tokensPerFill}`;
  if (!Number.isFinite(fillIntervalMs) || fillIntervalMs < minFillIntervalMs) {
    return `fillIntervalMs must be at least ${minFillIntervalMs}, got ${fillIntervalMs}`;
  }
  return undefined;
}

export class TokenBucket {
  readonly settings: TokenBucketSettings;
  private readonly clock: Clock;
  private tokens: number;
  private lastFillMs: number;

  /** `settings` must pass tokenBucketSettingsError (RateLimiterSet checks before building). */
  constructor(settings: TokenBucketSettings, clock: Clock) {
    this.settings = settings;
    this.clock = clock;
    this.tokens = settings.maxTokens;
    this.lastFillMs = clock.nowMs();
  }

  /** Takes one token if there is one: true lets the request through, false limits it. */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Tokens left now (for rate-limit headers and tests). */
  remaining(): number {
    this.refill();
    return this.tokens;
  }

  /** Milliseconds until the next fill adds tokens. */
  msUntilNextFill(): number {
    this.refill();
    return Math.max(0, this.lastFillMs + this.settings.fillIntervalMs - this.clock.nowMs());
  }

  private refill(): void {
    const { maxTokens, tokensPerFill, fillIntervalMs } = this.settings;
    const now = this.clock.nowMs();
    // A clock that steps back must not mint tokens or wedge the bucket: restart the interval.
    if (now < this.lastFillMs) {
      this.lastFillMs = now;
      return;
    }
    const fills = Math.floor((now - this.lastFillMs) / fillIntervalMs);
    if (fills === 0) return;
    this.tokens = Math.min(maxTokens, this.tokens + fills * tokensPerFill);
    this.lastFillMs += fills * fillIntervalMs;
  }
}
