// RateLimiterSet: the local rate limit buckets of a waypoint, keyed by rule id (for example a
// route name). A config update keeps a bucket whose settings did not change, so a push does not
// refill every bucket; it rebuilds changed ones and drops removed ones.
import type { Clock } from '../../shared/clock.js';
import { TokenBucket, tokenBucketSettingsError, type TokenBucketSettings } from './token-bucket.js';

export interface RateLimitRuleError {
  readonly id: string;
  readonly reason: string;
}

export class RateLimiterSet {
  private readonly clock: Clock;
  private buckets = new Map<string, TokenBucket>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /**
   * Replaces the rule set. Rules with invalid settings get no bucket (their requests are not
   * limited) and are returned so the caller can log or reject the config.
   */
  update(rules: Iterable<readonly [string, TokenBucketSettings]>): RateLimitRuleError[] {
    const errors: RateLimitRuleError[] = [];
    const next = new Map<string, TokenBucket>();
    for (const [id, settings] of rules) {
      const reason = tokenBucketSettingsError(settings);
      if (reason !== undefined) {
        errors.push({ id, reason });
        continue;
      }
      const kept = this.buckets.get(id);
      next.set(id, kept && sameSettings(kept.settings, settings) ? kept : new TokenBucket(settings, this.clock));
    }
    this.buckets = next;
    return errors;
  }

  /** Takes a token from rule `id`'s bucket. A rule with no bucket never limits (true). */
  take(id: string): boolean {
    const bucket = this.buckets.get(id);
    return bucket ? bucket.take() : true;
  }

  bucket(id: string): TokenBucket | undefined {
    return this.buckets.get(id);
  }

  get size(): number {
    return this.buckets.size;
  }
}

function sameSettings(a: TokenBucketSettings, b: TokenBucketSettings): boolean {
  return a.maxTokens === b.maxTokens && a.tokensPerFill === b.tokensPerFill && a.fillIntervalMs === b.fillIntervalMs;
}
