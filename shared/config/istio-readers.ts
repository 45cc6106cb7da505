// Reads for field formats Istio resources use that FieldReader has no method for: Go-style
// durations, JSON doubles and istio.networking Percent. Errors land on the field's path.
import { parseIstioDurationMs } from './duration.js';
import type { FieldReader } from './field-reader.js';

/** A host name, optionally with a leading `*.` wildcard label, or `*` alone (validation.go ValidateWildcardDomain). */
export const istioHost = /^(?=.{1,255}$)(\*|(\*\.)?[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)*)$/;

/** A duration field in Istio's format, as whole milliseconds. */
export function readIstioDuration(r: FieldReader, key: string, opts: { allowZero?: boolean } = {}): number | undefined {
  const text = r.string(key);
  if (text === undefined) return undefined;
  const d = parseIstioDurationMs(text, opts);
  return 'ms' in d ? d.ms : r.error(key, d.error);
}

/** A JSON number (FieldReader reads only integers), checked against an inclusive range. */
export function readNumber(r: FieldReader, key: string, min: number, max: number): number | undefined {
  if (!r.has(key)) return undefined;
  const v = r.value[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return r.error(key, `must be a number, got ${typeof v}`);
  if (v < min || v > max) return r.error(key, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

/** istio.networking.Percent `{value}`: 0, or 0.0001..100 (validation.go validatePercentage). */
export function readPercent(r: FieldReader, key: string): number | undefined {
  const p = r.object(key);
  if (!p) return undefined;
  const v = readNumber(p, 'value', 0, 100);
  if (v !== undefined && v > 0 && v < 0.0001) return p.error('value', `must be 0 or at least 0.0001, got ${v}`);
  return v;
}
