// Duration strings in traffic resources, parsed to whole milliseconds: Istio's (protobuf Duration
// written as Go time.ParseDuration text, e.g. "1.5s", "100ms", "2m") and Gateway API's (GEP-2257).
// Parsing is exact (BigInt nanoseconds), so "0.0015s" is caught as finer than a millisecond.

export type DurationResult = { readonly ms: number } | { readonly error: string };

const nsPerUnit: Readonly<Record<string, bigint>> = {
  ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const goDuration = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const goComponent = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/g;
/** Go's time.Duration is an int64 of nanoseconds. */
const maxGoNs = (1n << 63n) - 1n;
const nsPerMs = 1_000_000n;

/**
 * An Istio duration. Istio's validation (pkg/config/validation/agent ValidateDuration) rejects
 * durations under 1ms and anything finer than a millisecond; `allowZero` admits "0s" where the
 * field gives zero a meaning (a session cookie's ttl).
 */
export function parseIstioDurationMs(text: string, opts: { allowZero?: boolean } = {}): DurationResult {
  const shown = JSON.stringify(text.slice(0, 40));
  if (text !== '0' && !goDuration.test(text)) {
    return { error: `${shown} is not a duration (a number and a unit ns, us, ms, s, m or h, e.g. "1.5s", "100ms", "2m")` };
  }
  let ns = 0n;
  for (const [, whole = '', frac = '', unit = ''] of text.matchAll(goComponent)) {
    const per = nsPerUnit[unit] ?? 0n;
    ns += BigInt(whole || '0') * per;
    if (frac) ns += (BigInt(frac) * per) / 10n ** BigInt(frac.length);
    if (ns > maxGoNs) return { error: `${shown} is too long` };
  }
  if (ns === 0n && opts.allowZero) return { ms: 0 };
  if (ns < nsPerMs) return { error: `${shown} must be at least 1ms` };
  if (ns % nsPerMs !== 0n) return { error: `${shown} is finer than a millisecond, which is not supported` };
  return { ms: Number(ns / nsPerMs) };
}

/** GEP-2257: MUST match this pattern and is then read as Go's time.ParseDuration would. */
export const gatewayDurationPattern = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const gatewayComponent = /([0-9]{1,5})(ms|h|m|s)/g;
const msPerGatewayUnit: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Gateway API Duration; "0s" is valid and means "disabled" for timeouts (GEP-1742). */
export function parseGatewayDurationMs(text: string): DurationResult {
  if (!gatewayDurationPattern.test(text)) {
    return { error: `${JSON.stringify(text.slice(0, 40))} is not a Gateway API duration (GEP-2257: 1 to 4 parts of up to 5 digits and h, m, s or ms, e.g. "1h30m", "500ms")` };
  }
  let ms = 0;
  for (const [, value = '0', unit = ''] of text.matchAll(gatewayComponent)) ms += Number(value) * (msPerGatewayUnit[unit] ?? 0);
  return { ms };
}
