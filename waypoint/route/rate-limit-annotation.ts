// Ambit's first-class local rate limit: the annotation `ambit.io/local-rate-limit` on an HTTPRoute
// or VirtualService gives each of its rules its own token bucket (Envoy local_ratelimit semantics:
// `tokensPerFill` tokens every `fillIntervalMs`, capped at `maxTokens`; an empty bucket answers 429).
// Istio needs an EnvoyFilter for this; Kuma's MeshRateLimit `local.http{requests, interval}` is the model.

export const localRateLimitAnnotation = 'ambit.io/local-rate-limit';

export interface TokenBucketSpec {
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
  readonly maxTokens: number;
}

export type RateLimitParse = { readonly bucket: TokenBucketSpec } | { readonly error: string };

const unitMs = { s: 1_000, m: 60_000, h: 3_600_000 } as const;
const maxCount = 1_000_000_000;
const grammar = /^\s*(\d+)\s*\/\s*([smh])\s*(?:;\s*burst\s*=\s*(\d+)\s*)?$/;

/**
 * Parses `"<n>/<unit>"` or `"<n>/<unit>; burst=<b>"` (unit s, m or h), e.g. "100/s; burst=200".
 * Without a burst the bucket holds one interval's worth (maxTokens = n). Never throws.
 */
export function parseLocalRateLimit(value: string): RateLimitParse {
  const shown = JSON.stringify(value.slice(0, 60));
  const m = grammar.exec(value);
  if (!m) return { error: `${shown} is not a rate limit: write "<requests>/<s|m|h>" with an optional "; burst=<tokens>", e.g. "100/s; burst=200"` };
  const count = Number(m[1]);
  const burst = m[3] === undefined ? count : Number(m[3]);
  if (count < 1 || count > maxCount) return { error: `${shown}: the request count must be from 1 to ${maxCount}` };
  if (burst < 1 || burst > maxCount) return { error: `${shown}: burst must be from 1 to ${maxCount}` };
  return { bucket: { tokensPerFill: count, fillIntervalMs: unitMs[m[2] as keyof typeof unitMs], maxTokens: burst } };
}
