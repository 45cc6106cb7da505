// Forwarder: executes a forward plan for one HTTP request (the waypoint's router): injected
// faults (delay, abort), then attempts to endpoints through the HBONE HTTP upstream with the
// route's per-try and overall timeouts and retry policy (a retry avoids the hosts already
// tried when others exist), then the response with the route's header changes. Envoy's answers
// and response flags where it fails: 503 UH (no healthy upstream), 503 UF (connect failure),
// 503 UR (reset before headers), 504 UT (timeout), 503 UO (circuit breaker), URX (retries used up).
import type { Readable } from 'node:stream';
import type { Endpoint } from './hbone-http-upstream.js';
import type { HeaderList } from './trace-headers.js';
import { knownEmptyBody } from '../shared/http/h1-body-stream.js';
import { ReplayBody } from './replay-body.js';

export type { AttemptOutcome } from './upstream/retry-policy.js';
import type { AttemptOutcome } from './upstream/retry-policy.js';
import type { AbortLike } from './client-gone.js';

export type Admission = { readonly ok: true; release(): void } | { readonly ok: false };

export interface ForwardPlan {
  readonly method: string;
  readonly path: string;
  /** Request headers to send upstream (host included), hop-by-hop ones removed. */
  readonly headers: HeaderList;
  readonly timeoutMs?: number;
  readonly perTryTimeoutMs?: number;
  /** DestinationRule connectionPool.http.maxRequestsPerConnection (0/absent: no limit). */
  readonly maxRequestsPerConnection?: number;
  readonly retry?: {
    /** Retries after the first attempt. */
    readonly attempts: number;
    shouldRetry(o: AttemptOutcome): boolean;
    backoffMs(retry: number): number;
  };
  readonly fault?: { readonly delayMs?: number; readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: number } };
  /** An endpoint, avoiding `avoid` (keys of endpoints already tried) when possible. */
  /** `avoid` holds the workload uids of earlier attempts. */
  pick(avoid: ReadonlySet<string>): { readonly endpoint: Endpoint } | { readonly none: string };
  /** Outlier detection and least-request bookkeeping: called per attempt, returns its end. */
  onAttemptStart?(endpoint: Endpoint): (outcome: AttemptOutcome) => void;
  /** Circuit breakers: one admission per request, one per retry. */
  /** May wait (a pending request queued for a connection); resolves refused on overflow. */
  admitRequest?(): Admission | Promise<Admission>;
  admitRetry?(): Admission;
  /** Response header changes of the route. */
  editResponseHeaders?(headers: HeaderList): HeaderList;
}

/** What the downstream got, for metrics and the access log. */
export interface ForwardResult {
  readonly status: number;
  readonly flags: string[];
  readonly upstreamHost?: string;
  readonly endpoint?: Endpoint;
  readonly attempts: number;
  readonly responseBytes: number;
  /** Request body bytes read from the downstream. */
  readonly requestBytes: number;
  readonly grpcStatus?: string;
}

/** An upstream response whose head arrived: its headers, body stream and (after the body) trailers. */
export interface UpstreamResponse {
  readonly headers: HeaderList;
  readonly body: Readable;
  /** Trailers received after the body (gRPC status lives here); undefined before the end or when none. */
  trailers(): HeaderList | undefined;
}

export interface AttemptResult {
  readonly outcome: AttemptOutcome;
  readonly response?: UpstreamResponse;
}

/** One protocol's way to make an attempt (HTTP/1.1 or HTTP/2 inside an HBONE tunnel). */
export interface AttemptRunner {
  attempt(ep: Endpoint, req: { readonly method: string; readonly path: string; readonly headers: HeaderList; readonly maxRequestsPerConnection?: number }, body: Buffer | Readable, timeoutMs: number | undefined, aborted: AbortLike): Promise<AttemptResult>;
}

export interface Downstream {
  readonly body: Readable;
  /** Sends a complete local reply (no upstream). */
  reply(status: number, body: string, headers?: HeaderList): number;
  /** Sends the upstream response head, streams its body and trailers; resolves with body bytes sent. */
  relay(status: number, headers: HeaderList, response: UpstreamResponse): Promise<number>;
  readonly aborted: AbortLike;
}

const retryBufferBytes = 1024 * 1024;
const sleep = (ms: number, signal: AbortLike): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const noBody = Buffer.alloc(0);
/** No circuit breaker configured: admitted, nothing to release. */
const admittedFree: Admission = { ok: true, release: () => undefined };

export async function forward(upstream: AttemptRunner, plan: ForwardPlan, down: Downstream): Promise<ForwardResult> {
  const flags: string[] = [];
  const local = (status: number, body: string, flag?: string, attempts = 0): ForwardResult => {
    if (flag) flags.push(flag);
    return { status, flags, attempts, requestBytes: 0, responseBytes: down.reply(status, body) };
  };
  if (plan.fault?.delayMs) {
    flags.push('DI');
    await sleep(plan.fault.delayMs, down.aborted);
  }
  const abort = plan.fault?.abort;
  if (abort) {
    if (abort.grpcStatus !== undefined) {
      flags.push('FI');
      const bytes = down.reply(200, '', [['content-type', 'application/grpc'], ['grpc-status', String(abort.grpcStatus)], ['grpc-message', 'fault filter abort']]);
      return { status: 200, flags, attempts: 0, requestBytes: 0, responseBytes: bytes, grpcStatus: String(abort.grpcStatus) };
    }
    return local(abort.httpStatus ?? 503, 'fault filter abort', 'FI');
  }
  const admission = plan.admitRequest?.() ?? admittedFree;
  const admitted = admission instanceof Promise ? await admission : admission;
  if (!admitted.ok) return local(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'UO');
  // Request body bytes, counted as the body is consumed (a 'data' listener beside pipe() or the
  // buffering); a body known to be empty needs no listener. Adding the listener must not start the
  // body flowing: until the upstream consumer attaches (after a tunnel opens) its bytes would reach
  // only this counter and be lost. HTTP/1.1 bodies arrive explicitly paused; an HTTP/2 stream does
  // not, so it is paused here and its consumer (pipe(), the buffering, the request writer) resumes it.
  let requestBytes = 0;
  if (!knownEmptyBody(down.body)) {
    const body = down.body;
    const flowing = body.readableFlowing === true;
    body.on('data', (c: Buffer) => (requestBytes += c.length));
    if (!flowing) body.pause();
  }
  try {
    const result = await attemptAll(upstream, plan, down, flags);
    return { ...result, requestBytes };
  } finally {
    admitted.release();
  }
}

async function attemptAll(upstream: AttemptRunner, plan: ForwardPlan, down: Downstream, flags: string[]): Promise<Omit<ForwardResult, 'requestBytes'>> {
  const maxRetries = plan.retry?.attempts ?? 0;
  const retriable = maxRetries > 0;
  // A retriable body is streamed to the first attempt and kept for the next (replay-body.ts); one
  // known to be empty is simply none. Over 1 MiB it cannot be replayed: no retry (as in Envoy).
  const empty = retriable && knownEmptyBody(down.body);
  if (empty) down.body.resume(); // reaches 'end' for whoever waits for it
  const replay = retriable && !empty ? await ReplayBody.open(down.body, retryBufferBytes) : undefined;
  const deadline = plan.timeoutMs ? Date.now() + plan.timeoutMs : undefined;
  const tried = new Set<string>();
  let last: (AttemptResult & { endpoint: Endpoint }) | undefined;
  for (let attempt = 0; ; attempt++) {
    const picked = plan.pick(tried);
    if ('none' in picked) {
      last?.response?.body.resume();
      return { status: 503, flags: [...flags, 'UH'], attempts: attempt, responseBytes: down.reply(503, 'no healthy upstream') };
    }
    const ep = picked.endpoint;
    tried.add(ep.workload.uid);
    const remaining = deadline === undefined ? undefined : deadline - Date.now();
    const tryMs = minDefined(plan.perTryTimeoutMs, remaining);
    const end = plan.onAttemptStart?.(ep);
    const body = empty ? noBody : replay ? replay.attemptBody() : down.body;
    const result = await upstream.attempt(ep, plan, body, tryMs, down.aborted);
    end?.(result.outcome);
    last = { ...result, endpoint: ep };
    const overall = deadline !== undefined && Date.now() >= deadline;
    const canRetry = retriable && (replay?.replayable ?? true) && attempt < maxRetries && !overall && !down.aborted.aborted && plan.retry!.shouldRetry(result.outcome);
    if (canRetry) {
      const admitted = plan.admitRetry?.() ?? admittedFree;
      if (admitted.ok) {
        result.response?.body.resume();
        await sleep(Math.min(plan.retry!.backoffMs(attempt + 1), deadline === undefined ? Infinity : Math.max(0, deadline - Date.now())), down.aborted);
        admitted.release();
        if (deadline === undefined || Date.now() < deadline) continue;
      } else {
        flags.push('UO');
      }
    }
    if (retriable && attempt >= maxRetries && attempt > 0 && plan.retry!.shouldRetry(result.outcome)) flags.push('URX');
    return finish(plan, down, last, attempt + 1, flags, overall);
  }
}

async function finish(plan: ForwardPlan, down: Downstream, last: AttemptResult & { endpoint: Endpoint }, attempts: number, flags: string[], overall: boolean): Promise<Omit<ForwardResult, 'requestBytes'>> {
  const upstreamHost = `${last.endpoint.ip}:${last.endpoint.port}`;
  const base = { upstreamHost, endpoint: last.endpoint, attempts };
  const o = last.outcome;
  // The client went away: nothing to answer (Envoy logs response code 0 with DC).
  if (down.aborted.aborted) {
    last.response?.body.destroy();
    return { ...base, status: 0, flags: [...flags, 'DC'], responseBytes: 0 };
  }
  if (o.kind === 'response' && last.response && !overall) {
    const headers = plan.editResponseHeaders ? plan.editResponseHeaders(last.response.headers) : last.response.headers;
    const bytes = await down.relay(o.status, headers, last.response);
    const grpc = o.grpcStatus ?? grpcStatusOf(last.response.trailers());
    return { ...base, status: o.status, flags, responseBytes: bytes, ...(grpc !== undefined ? { grpcStatus: String(grpc) } : {}) };
  }
  last.response?.body.resume();
  if (o.kind === 'per-try-timeout' || overall) return { ...base, status: 504, flags: [...flags, 'UT'], responseBytes: down.reply(504, 'upstream request timeout') };
  if (o.kind === 'connect-failure') return { ...base, status: 503, flags: [...flags, 'UF'], responseBytes: down.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure') };
  return { ...base, status: 503, flags: [...flags, 'UR'], responseBytes: down.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: remote reset') };
}

function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

function grpcStatusOf(trailers: HeaderList | undefined): number | undefined {
  const v = trailers?.find(([n]) => n === 'grpc-status')?.[1];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}
