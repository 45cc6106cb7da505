// Retry decisions as Envoy's router makes them (route.RetryPolicy retry_on, x-envoy-retry-on and
// x-envoy-retry-grpc-on semantics), plus Envoy's fully jittered exponential back-off. Attempt
// counting, per-try timeouts and the retry circuit breaker stay with the executor.
import { randomIndex, type Random } from '../../shared/seeded-random.js';

export const RetryOn = {
  FiveXx: '5xx',
  GatewayError: 'gateway-error',
  Reset: 'reset',
  ConnectFailure: 'connect-failure',
  Retriable4xx: 'retriable-4xx',
  RefusedStream: 'refused-stream',
  RetriableStatusCodes: 'retriable-status-codes',
  // x-envoy-retry-grpc-on: read from the grpc-status of the response headers (trailers-only).
  Cancelled: 'cancelled',
  DeadlineExceeded: 'deadline-exceeded',
  Internal: 'internal',
  ResourceExhausted: 'resource-exhausted',
  Unavailable: 'unavailable',
} as const;
export type RetryOn = (typeof RetryOn)[keyof typeof RetryOn];

const known: ReadonlySet<string> = new Set(Object.values(RetryOn));

/** grpc-status numbers of the gRPC retry conditions (grpc/doc/statuscodes.md). */
const grpcCodeOf: Readonly<Partial<Record<RetryOn, number>>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

export interface RetryPolicy {
  readonly retryOn: ReadonlySet<RetryOn>;
  /** Used only when retryOn has `retriable-status-codes` (Envoy retriable_status_codes). */
  readonly retriableStatusCodes: ReadonlySet<number>;
}

/** How one attempt ended, as the executor saw it. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus?: number }
  /** TCP/HBONE connect to the endpoint failed or timed out. */
  | { readonly kind: 'connect-failure' }
  /** The upstream reset or closed the stream before a response (disconnect/reset). */
  | { readonly kind: 'reset' }
  /** HTTP/2 RST_STREAM with REFUSED_STREAM: the upstream did not process the request. */
  | { readonly kind: 'refused-stream' }
  /** The per-try timeout fired: Envoy treats it like a read timeout (a reset). */
  | { readonly kind: 'per-try-timeout' }
  /** A local circuit-breaker overflow (UO): Envoy never retries these. */
  | { readonly kind: 'overflow' };

export interface BuiltRetryPolicy {
  readonly policy: RetryPolicy;
  /** Tokens Ambit does not act on (for example `retriable-headers`, `envoy-ratelimited`): log them. */
  readonly ignored: readonly string[];
}

/**
 * Compiles retryOn tokens. A bare HTTP status code adds itself to the retriable codes and turns on
 * `retriable-status-codes`, as Istio's retry.ConvertPolicy (parseRetryOn) does.
 */
export function buildRetryPolicy(tokens: readonly string[], extraStatusCodes: readonly number[] = []): BuiltRetryPolicy {
  const retryOn = new Set<RetryOn>();
  const codes = new Set<number>(extraStatusCodes.filter(isStatusCode));
  const ignored: string[] = [];
  for (const raw of tokens) {
    const token = raw.trim();
    if (token === '') continue;
    if (/^[0-9]+$/.test(token) && isStatusCode(Number(token))) codes.add(Number(token));
    else if (known.has(token)) retryOn.add(token as RetryOn);
    else ignored.push(token);
  }
  if (codes.size > 0) retryOn.add(RetryOn.RetriableStatusCodes);
  return { policy: { retryOn, retriableStatusCodes: codes }, ignored };
}

/** True when `outcome` is one `policy` retries (Envoy RetryStateImpl wouldRetryFromHeaders / FromReset). */
export function shouldRetry(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case 'overflow':
      return false;
    case 'response': {
      const { status } = outcome;
      if (on.has(RetryOn.FiveXx) && status >= 500 && status <= 599) return true;
      if (on.has(RetryOn.GatewayError) && (status === 502 || status === 503 || status === 504)) return true;
      if (on.has(RetryOn.Retriable4xx) && status === 409) return true;
      if (on.has(RetryOn.RetriableStatusCodes) && policy.retriableStatusCodes.has(status)) return true;
      if (outcome.grpcStatus !== undefined) {
        for (const [token, code] of Object.entries(grpcCodeOf)) {
          if (code === outcome.grpcStatus && on.has(token as RetryOn)) return true;
        }
      }
      return false;
    }
    case 'connect-failure':
      return on.has(RetryOn.ConnectFailure) || anyReset(on);
    case 'refused-stream':
      return on.has(RetryOn.RefusedStream) || anyReset(on);
    case 'reset':
    case 'per-try-timeout':
      return anyReset(on);
  }
}

// Envoy counts an upstream reset (and a per-try timeout) as a 5xx and a gateway error for retries,
// and `reset` covers every way the upstream failed to answer.
function anyReset(on: ReadonlySet<RetryOn>): boolean {
  return on.has(RetryOn.FiveXx) || on.has(RetryOn.GatewayError) || on.has(RetryOn.Reset);
}

/** Envoy's default retry back-off base interval (route.RetryPolicy.RetryBackOff). */
export const defaultRetryBaseMs = 25;

/**
 * Envoy's fully jittered exponential back-off (JitteredExponentialBackOffStrategy): the wait before
 * retry number `retry` (1 for the first retry) is uniform in [0, (2^retry - 1) × base), capped at
 * `maxMs` (default 10 × base). With the defaults: [0, 25), [0, 75), [0, 175), then [0, 250).
 */
export function backoffMs(retry: number, random: Random, baseMs = defaultRetryBaseMs, maxMs = 10 * baseMs): number {
  if (!(baseMs > 0)) return 0;
  const cap = maxMs >= baseMs ? maxMs : baseMs;
  const n = Math.max(1, Math.min(Math.floor(retry) || 1, 52));
  const upper = Math.min((2 ** n - 1) * baseMs, cap);
  return randomIndex(random, Math.max(1, Math.floor(upper)));
}

function isStatusCode(n: number): boolean {
  return Number.isInteger(n) && n >= 100 && n <= 599;
}
