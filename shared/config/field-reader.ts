// FieldReader: typed, path-aware reads from an untrusted decoded document. Every read that finds
// the wrong type or a bad value records a ConfigError with the field path and returns undefined,
// so one decoder pass reports every problem in a resource, not only the first.
import { isIP } from 'node:net';
import type { ConfigError } from './config-error.js';

export type ErrorSink = (path: string, reason: string) => void;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Kubernetes name rules (apimachinery validation).
export const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const dns1123Subdomain = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IANA service name: what a named port may be (≤ 15 chars, a letter, no double hyphen). */
export const ianaServiceName = /^(?=.{1,15}$)(?=.*[a-z])(?!.*--)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const labelKey = /^(([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export class FieldReader {
  readonly value: Record<string, unknown>;
  readonly path: string;
  private readonly sink: ErrorSink;

  constructor(value: Record<string, unknown>, path: string, sink: ErrorSink) {
    this.value = value;
    this.path = path;
    this.sink = sink;
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  error(key: string, reason: string): undefined {
    this.sink(key === '' ? this.path : this.at(key), reason);
    return undefined;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.value, key) && this.value[key] !== null && this.value[key] !== undefined;
  }

  string(key: string, opts: { required?: boolean; pattern?: RegExp; what?: string; maxLength?: number } = {}): string | undefined {
    if (!this.has(key)) return opts.required ? this.error(key, 'is required') : undefined;
    const v = this.value[key];
    if (typeof v !== 'string') return this.error(key, `must be a string, got ${typeOf(v)}`);
    if (opts.maxLength !== undefined && v.length > opts.maxLength) return this.error(key, `must be at most ${opts.maxLength} characters`);
    if (opts.pattern && !opts.pattern.test(v)) return this.error(key, `${JSON.stringify(v.slice(0, 80))} is not ${opts.what ?? `a valid value (${opts.pattern.source})`}`);
    return v;
  }

  integer(key: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    if (!this.has(key)) return opts.required ? this.error(key, 'is required') : undefined;
    const v = this.value[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.error(key, `must be an integer, got ${typeOf(v)}`);
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      return this.error(key, `must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}, got ${v}`);
    }
    return v;
  }

  boolean(key: string): boolean | undefined {
    if (!this.has(key)) return undefined;
    const v = this.value[key];
    return typeof v === 'boolean' ? v : this.error(key, `must be true or false, got ${typeOf(v)}`);
  }

  /** A nested object as a reader (absent → undefined; `required` makes absence an error). */
  object(key: string, opts: { required?: boolean } = {}): FieldReader | undefined {
    if (!this.has(key)) return opts.required ? this.error(key, 'is required') : undefined;
    const v = this.value[key];
    if (!isPlainObject(v)) return this.error(key, `must be an object, got ${typeOf(v)}`);
    return new FieldReader(v, this.at(key), this.sink);
  }

  /** Each element of a list, with its path `key[i]`; non-list values are an error. */
  list(key: string, opts: { required?: boolean; max?: number } = {}): { value: unknown; path: string }[] {
    if (!this.has(key)) {
      if (opts.required) this.error(key, 'is required');
      return [];
    }
    const v = this.value[key];
    if (!Array.isArray(v)) {
      this.error(key, `must be a list, got ${typeOf(v)}`);
      return [];
    }
    if (opts.max !== undefined && v.length > opts.max) {
      this.error(key, `must have at most ${opts.max} entries`);
      return [];
    }
    return v.map((value, i) => ({ value, path: `${this.at(key)}[${i}]` }));
  }

  /** A list of objects, each as a reader; a non-object element is reported and skipped. */
  objects(key: string, opts: { required?: boolean; max?: number } = {}): FieldReader[] {
    return this.list(key, opts).flatMap(({ value, path }) => {
      if (isPlainObject(value)) return [new FieldReader(value, path, this.sink)];
      this.sink(path, `must be an object, got ${typeOf(value)}`);
      return [];
    });
  }

  /** A list of strings, each checked against `pattern`; bad entries are reported and dropped. */
  strings(key: string, opts: { required?: boolean; pattern?: RegExp; what?: string; max?: number } = {}): string[] {
    return this.list(key, opts).flatMap(({ value, path }) => {
      if (typeof value !== 'string') {
        this.sink(path, `must be a string, got ${typeOf(value)}`);
        return [];
      }
      if (opts.pattern && !opts.pattern.test(value)) {
        this.sink(path, `${JSON.stringify(value.slice(0, 80))} is not ${opts.what ?? 'valid'}`);
        return [];
      }
      return [value];
    });
  }

  /** A string→string map such as labels (keys/values checked as Kubernetes labels) or annotations. */
  stringMap(key: string, opts: { labels?: boolean } = {}): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    if (!this.has(key)) return out;
    const v = this.value[key];
    if (!isPlainObject(v)) {
      this.error(key, `must be a map of strings, got ${typeOf(v)}`);
      return out;
    }
    for (const [k, val] of Object.entries(v)) {
      const path = `${this.at(key)}.${k}`;
      if (typeof val !== 'string') {
        this.sink(path, `must be a string, got ${typeOf(val)}`);
        continue;
      }
      if (opts.labels && (!labelKey.test(k) || !labelValue.test(val))) {
        this.sink(path, 'is not a valid Kubernetes label');
        continue;
      }
      out[k] = val;
    }
    return out;
  }

  /** A literal IP address (v4 or v6). */
  ip(key: string, opts: { required?: boolean } = {}): string | undefined {
    const v = this.string(key, opts);
    if (v === undefined) return undefined;
    return isIP(v) ? v : this.error(key, `${JSON.stringify(v.slice(0, 60))} is not an IP address`);
  }
}

export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return typeof v === 'string' ? `string ${JSON.stringify(v.slice(0, 40))}` : `${typeof v} ${String(v)}`;
}

/** A sink that appends to `errors` with the resource context filled in. */
export function errorSink(errors: ConfigError[], context: Omit<ConfigError, 'path' | 'reason'>): ErrorSink {
  return (path, reason) => errors.push({ ...context, path, reason });
}
