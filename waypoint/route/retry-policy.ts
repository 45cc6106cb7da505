// Retry policies as the plan carries them: Istio's mesh default, VirtualService `retries` and
// Gateway API GEP-1731 `retry`, all mapped onto Envoy's retry_policy vocabulary.
import type { HTTPRetry } from '../../shared/config/networking-resources.js';
import type { HTTPRouteRule } from '../../shared/config/gateway-resources.js';
import type { RetrySpec } from './service-routes.js';

/** Envoy retry_back_off defaults: base 25 ms, max 10 × base. */
export const defaultBackoffBaseMs = 25;

/**
 * Istio's default for every HTTP route that sets no retries (pilot networking/core/route/retry
 * DefaultPolicy): 2 retries on connect-failure, refused-stream, unavailable, cancelled and 503.
 */
export const istioDefaultRetry: RetrySpec = Object.freeze({
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
  retriableStatusCodes: [503],
  backoffBaseMs: defaultBackoffBaseMs,
  backoffMaxMs: defaultBackoffBaseMs * 10,
});

/** VirtualService `retries`: attempts 0 disables; an empty retryOn keeps Istio's default conditions. */
export function virtualServiceRetry(r: HTTPRetry | undefined): RetrySpec | undefined {
  if (!r) return istioDefaultRetry;
  if (r.attempts === 0) return undefined;
  const codes = r.retryOn.filter((p) => /^\d{3}$/.test(p)).map(Number);
  const policies = r.retryOn.filter((p) => !/^\d{3}$/.test(p));
  if (r.retryOn.length === 0) return { ...istioDefaultRetry, attempts: r.attempts };
  if (codes.length > 0 && !policies.includes('retriable-status-codes')) policies.push('retriable-status-codes');
  return { attempts: r.attempts, retryOn: policies, retriableStatusCodes: codes, backoffBaseMs: defaultBackoffBaseMs, backoffMaxMs: defaultBackoffBaseMs * 10 };
}

/**
 * GEP-1731 `retry`: `codes` are retried, and connection errors too (the GEP: implementations
 * SHOULD retry connection errors). Unset `attempts` takes Envoy's num_retries default of 1;
 * `backoff` is the base interval, the maximum 10 × base as in Envoy. No `retry`: Istio's default.
 */
export function httpRouteRetry(r: HTTPRouteRule['retry']): RetrySpec | undefined {
  if (!r) return istioDefaultRetry;
  const attempts = r.attempts ?? 1;
  if (attempts === 0) return undefined;
  const base = r.backoffMs !== undefined && r.backoffMs > 0 ? r.backoffMs : defaultBackoffBaseMs;
  return {
    attempts,
    retryOn: ['connect-failure', 'refused-stream', 'reset', ...(r.codes.length > 0 ? ['retriable-status-codes'] : [])],
    retriableStatusCodes: [...r.codes],
    backoffBaseMs: base,
    backoffMaxMs: base * 10,
  };
}
