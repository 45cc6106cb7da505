// RequestHandler: one HTTP request through the waypoint, top to bottom (issue 5): refuse
// malformed heads (400), trace headers, JWT (401), authorization (403), the route plan (direct
// answers, redirects, rate limit 429), then the forwarder, and exactly one metrics record and
// access-log line per request (reporter `waypoint`). Runtime upstream state (endpoint choice,
// outlier ejection, circuit breakers) lives in UpstreamSelector; decisions come from L7Config.
import hyperid from 'hyperid';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { identityUri, type Identity } from '../shared/identity/spiffe.js';
import type { Logger } from '../shared/log.js';
import type { HttpMetrics } from '../shared/telemetry/http-metrics.js';
import { trafficLabels, type TrafficLabels } from '../shared/telemetry/tcp-metrics.js';
import type { RequestContext } from './downstream.js';
import { forward, type ForwardPlan, type ForwardResult } from './forwarder.js';
import { sendMirror } from './mirror-request.js';
import { grpcStatusCode, httpToGrpcStatus } from './grpc-local-reply.js';
import type { HboneH2Upstream } from './hbone-h2-upstream.js';
import type { Endpoint, HboneHttpUpstream } from './hbone-http-upstream.js';
import { defaultBackend, type Authn, type Backend, type L7Config, type RoutePlan } from './l7-config.js';
import { applyHeaderOps, isEmptyHeaderOps } from './route/header-ops.js';
import type { PlanBackend } from './route/route-plan.js';
import type { ModelIndex } from '../shared/config/model-index.js';
import { normalizePath } from '../shared/authz/normalize-path.js';
import { checkRequestHead } from '../shared/http/check-request-head.js';
import type { WaypointState } from './state.js';
import { propagateTrace, type HeaderList, type TraceIds } from './trace-headers.js';
import { UpstreamSelector } from './upstream-selector.js';
import type { TunnelContext } from './waypoint-inbound.js';

export interface RequestHandlerOptions {
  readonly state: WaypointState<L7Config>;
  readonly upstream: HboneHttpUpstream;
  readonly upstreamH2: HboneH2Upstream;
  readonly metrics: HttpMetrics;
  readonly identity: Identity;
  readonly logger: Logger;
  readonly accessLog: Logger;
  readonly random: () => number;
}

const makeRequestId = hyperid({ urlSafe: true });
// Span and trace ids from a pooled random buffer: a randomBytes() call per id was ~4 % of the
// waypoint's CPU (bench/README.md, waypoint profile).
let pool = Buffer.alloc(0);
let at = 0;
function randomHex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(4096);
    at = 0;
  }
  const hex = pool.toString('hex', at, at + bytes);
  at += bytes;
  return hex;
}
const traceIds: TraceIds = {
  spanId: () => randomHex(8),
  traceId: () => randomHex(16),
  requestId: () => makeRequestId(),
};

interface Outcome {
  readonly status: number;
  readonly flags: readonly string[];
  readonly route?: string;
  readonly backend?: Backend;
  readonly endpoint?: Endpoint;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly grpcStatus?: string;
  readonly policy?: string;
  readonly reason?: string;
  readonly attempts?: number;
}

export class RequestHandler {
  private readonly opts: RequestHandlerOptions;
  readonly selector: UpstreamSelector;
  /** Istio labels per (source, peer, destination, service): built once, not per request. */
  private readonly trafficCache = new Map<string, TrafficLabels>();
  /** The selector's Backend per plan backend (route tables are compiled once per config). */
  private readonly backends = new WeakMap<PlanBackend, Backend>();
  inFlight = 0;

  constructor(opts: RequestHandlerOptions) {
    this.opts = opts;
    this.selector = new UpstreamSelector({ random: opts.random });
  }

  /** The model changed: labels cached per party may be stale. */
  configChanged(): void {
    this.trafficCache.clear();
    this.opts.metrics.clearCache();
  }

  /** Keys of the endpoints the model still has (idle tunnels to the others are closed). */
  liveEndpointKeys(): Set<string> {
    return this.selector.liveKeys(this.opts.state.current.index);
  }

  async handle(tunnel: TunnelContext, req: RequestContext): Promise<void> {
    this.inFlight++;
    const startedAt = performance.now();
    const trace = propagateTrace(req.headers, traceIds);
    let outcome: Outcome;
    try {
      outcome = await this.process(tunnel, req);
    } catch (err) {
      this.opts.logger.error({ err: (err as Error).message }, 'request handling failed');
      outcome = { status: 500, flags: ['-'], requestBytes: 0, responseBytes: req.down.reply(500, 'internal error'), reason: (err as Error).message };
    } finally {
      this.inFlight--;
    }
    this.record(tunnel, req, outcome, performance.now() - startedAt, trace.requestId);
  }

  private async process(tunnel: TunnelContext, req: RequestContext): Promise<Outcome> {
    const { down, head } = req;
    const local = (status: number, body: string, extra: Partial<Outcome> = {}, headers?: HeaderList): Outcome => ({
      status, flags: extra.flags ?? ['-'], requestBytes: 0, responseBytes: down.reply(status, body, headers), ...extra,
    });
    const bad = checkRequestHead(head);
    if (!bad.ok) return local(400, 'Bad Request', { reason: bad.reason, flags: ['DPE'] });
    // Route and forward on the normalized path, as Envoy does with Istio's BASE normalization, so
    // routing, authorization and the backend all see the same path.
    const normalized = normalizePath(head.path);
    if ('error' in normalized) return local(400, 'Bad Request', { reason: normalized.error, flags: ['DPE'] });
    const routed = normalized.path + normalized.query === head.path ? head : { ...head, path: normalized.path + normalized.query };
    const l7 = this.opts.state.current.compiled;
    const dest = tunnel.destination;
    const pending = l7.authenticate(dest, head);
    const authn: Authn = pending instanceof Promise ? await pending : pending;
    // Every invalid token is 401, as the issue asks (Envoy answers 403 for a wrong audience).
    if (authn.kind === 'invalid') return local(401, authn.reason, { reason: `${authn.reason}: ${authn.detail}` }, [['www-authenticate', authn.wwwAuthenticate]]);
    const auth = authn.kind === 'valid' ? authn : undefined;
    const decision = l7.authorize({ destination: dest, peer: tunnel.peer, clientIp: tunnel.clientIp, head, ...(auth ? { auth } : {}) });
    for (const d of decision.dryRun) if (d.matched) this.opts.logger.info({ policy: d.policy, action: d.action, path: head.path }, 'dry-run policy matched (not enforced)');
    if (!decision.allowed) {
      const why = { ...(decision.policy ? { policy: decision.policy } : {}), reason: decision.reason ?? 'denied' };
      // No token, and the deciding policy is about request principals: the client must authenticate
      // (401, as the issue asks; Istio answers 403 here). Everything else is 403 naming no internals.
      if (authn.kind === 'none' && decision.needsRequestPrincipal) return local(401, 'Jwt is missing', why, [['www-authenticate', 'Bearer realm="ambit"']]);
      return local(403, 'RBAC: access denied', why);
    }
    // The token header goes unless forwardOriginalToken; payload/claim headers are set (and forged ones removed).
    const ops = authn.headerOps;
    if (ops.remove.length + ops.set.length > 0) {
      const removed = new Set([...ops.remove, ...ops.set.map(([n]) => n)]);
      const kept = req.headers.filter(([n]) => !removed.has(n));
      req.headers.length = 0;
      req.headers.push(...kept, ...ops.set.map(([n, v]) => [n, v] as [string, string]));
    }
    const plan = l7.route(dest, routed, tunnel.peer.namespace, this.opts.random);
    return this.execute(plan, req, tunnel, ops.path ?? (routed === head ? undefined : routed.path));
  }

  private async execute(plan: RoutePlan | undefined, req: RequestContext, tunnel: TunnelContext, authnPath?: string): Promise<Outcome> {
    const { down, head } = req;
    const dest = tunnel.destination;
    if (plan && plan.rateLimit && !this.selector.takeToken(plan.rateLimit)) {
      return { status: 429, flags: ['RL'], ...(plan.route ? { route: plan.route } : {}), requestBytes: 0, responseBytes: down.reply(429, 'local_rate_limited', [['x-ratelimit-limit', String(plan.rateLimit.maxTokens)]]) };
    }
    if (plan?.kind === 'direct') {
      return { status: plan.status, flags: [plan.status === 404 ? 'NR' : '-'], ...(plan.route ? { route: plan.route } : {}), reason: plan.reason, requestBytes: 0, responseBytes: down.reply(plan.status, plan.status === 404 ? '' : plan.reason) };
    }
    if (plan?.kind === 'redirect') return { status: plan.status, flags: ['-'], route: plan.route, requestBytes: 0, responseBytes: down.reply(plan.status, '', [['location', plan.location]]) };
    const index = this.opts.state.current.index;
    const backend = plan ? this.backendOf(plan.backend, dest) : defaultBackend(dest);
    if (!backend) return { status: 503, flags: ['NC'], route: plan?.route, reason: 'backend service not in the model', requestBytes: 0, responseBytes: down.reply(503, 'no healthy upstream') };
    let headers = req.headers;
    if (plan) headers = applyHeaderOps(headers, plan.requestHeaderOps);
    const authority = plan?.rewrite?.authority ?? head.authority;
    setHost(headers, authority);
    const path = plan?.rewrite?.path ?? authnPath ?? head.path;
    for (const m of plan?.mirrors ?? []) {
      const mb = this.backendOf(m, dest);
      if (mb) this.mirror(mb, head.method, path, headers, index, down.body, keepsHttp2(req, headers, mb));
    }
    const retry = plan?.retry;
    const abort = plan?.fault?.abort;
    const fault = plan?.fault ? {
      ...(plan.fault.delayMs ? { delayMs: plan.fault.delayMs } : {}),
      ...(abort ? { abort: 'httpStatus' in abort ? { httpStatus: abort.httpStatus } : { grpcStatus: grpcStatusCode(abort.grpcStatus) } } : {}),
    } : undefined;
    const responseOps = plan?.responseHeaderOps;
    const fplan: ForwardPlan = {
      method: head.method,
      path,
      headers,
      ...(plan?.timeoutMs ? { timeoutMs: plan.timeoutMs } : {}),
      ...(plan?.perTryTimeoutMs ? { perTryTimeoutMs: plan.perTryTimeoutMs } : {}),
      ...(backend.trafficPolicy?.connectionPool?.http?.maxRequestsPerConnection ? { maxRequestsPerConnection: backend.trafficPolicy.connectionPool.http.maxRequestsPerConnection } : {}),
      ...(retry && retry.attempts > 0 ? { retry: this.selector.retryPolicy(retry) } : {}),
      ...(fault ? { fault } : {}),
      pick: (avoid) => this.selector.pick(this.opts.state.current.index, backend, avoid, head, tunnel.clientIp),
      onAttemptStart: (ep) => this.selector.started(backend, ep),
      admitRequest: () => this.selector.admitRequest(backend, down.aborted),
      admitRetry: () => this.selector.admit(backend, 'retry'),
      ...(responseOps && !isEmptyHeaderOps(responseOps) ? { editResponseHeaders: (h: HeaderList) => applyHeaderOps(h, responseOps) } : {}),
    };
    const result: ForwardResult = await forward(keepsHttp2(req, headers, backend) ? this.opts.upstreamH2 : this.opts.upstream, fplan, down);
    return { ...result, ...(plan ? { route: plan.route } : {}), backend, ...(result.endpoint ? { endpoint: result.endpoint } : {}) };
  }

  /** A plan's backend (a service key) as the selector's Backend, or undefined if the service is gone. */
  private backendOf(b: PlanBackend, dest: TunnelContext['destination']): Backend | undefined {
    const service = this.opts.state.current.index.serviceByKey.get(b.service);
    if (!service) return undefined;
    const port = b.port ?? (dest.kind === 'service' ? dest.port.servicePort : 0);
    // Kept per plan backend while its service object and port stay the same (a new model brings new objects).
    const cached = this.backends.get(b);
    if (cached && cached.service === service && cached.port === port) return cached;
    const built: Backend = { service, port, ...(b.subset ? { subset: b.subset } : {}), ...(b.labels ? { labels: b.labels } : {}), ...(b.trafficPolicy ? { trafficPolicy: b.trafficPolicy } : {}) };
    this.backends.set(b, built);
    return built;
  }

  /** Envoy's shadow of the request to one endpoint of `backend` (mirror-request.ts), the way the request goes. */
  private mirror(backend: Backend, method: string, path: string, headers: HeaderList, index: ModelIndex, body: Readable, h2: boolean): void {
    const picked = this.selector.pick(index, backend, new Set(), undefined);
    if ('none' in picked) return;
    // HTTP/2 for gRPC and h2 ports (a gRPC app speaks no HTTP/1.1).
    sendMirror(h2 ? this.opts.upstreamH2 : this.opts.upstream, picked.endpoint, { method, path, headers }, body);
  }

  private record(tunnel: TunnelContext, req: RequestContext, o: Outcome, durationMs: number, requestId: string): void {
    const view = this.opts.state.current;
    const dest = tunnel.destination;
    const service = dest.kind === 'service' ? dest.service : o.backend?.service;
    const dstWorkload = o.endpoint?.workload ?? (dest.kind === 'workload' ? dest.workload : undefined);
    const srcWorkload = view.index.workloadByIp.get(tunnel.clientIp);
    const flags = o.flags.filter((f) => f !== '-');
    const flagText = flags.length > 0 ? flags.join(',') : '-';
    const trafficKey = `${srcWorkload?.uid ?? ''}|${identityUri(tunnel.peer)}|${dstWorkload?.uid ?? ''}|${service ? `${service.namespace}/${service.hostname}` : ''}`;
    let traffic = this.trafficCache.get(trafficKey);
    if (!traffic) {
      traffic = trafficLabels({
        reporter: 'waypoint',
        ...(srcWorkload ? { source: srcWorkload } : {}),
        sourcePrincipal: tunnel.peer,
        ...(dstWorkload ? { destination: dstWorkload, destinationPrincipal: { trustDomain: dstWorkload.trustDomain, namespace: dstWorkload.namespace, serviceAccount: dstWorkload.serviceAccount } } : {}),
        ...(service ? { service } : {}),
        mtls: true,
      });
      if (this.trafficCache.size >= 10_000) this.trafficCache.clear();
      this.trafficCache.set(trafficKey, traffic);
    }
    const grpc = isGrpc(req.headers);
    // No grpc-status seen: Envoy infers it from the HTTP status (Grpc::Common::getGrpcStatus), as
    // the waypoint's own answers to gRPC clients over HTTP/2 carry it (downstream.ts).
    const grpcStatus = o.grpcStatus ?? (grpc && req.protocol === 'http2' && o.status !== 0 && o.status !== 200 ? String(httpToGrpcStatus(o.status)) : undefined);
    this.opts.metrics.record({ traffic, trafficKey, protocol: grpc ? 'grpc' : 'http', responseCode: o.status, ...(grpcStatus ? { grpcStatus } : {}), flags: flagText, durationMs, requestBytes: o.requestBytes, responseBytes: o.responseBytes });
    // The line is built only when it will be written (`--log-level warn` drops successful requests).
    const level = o.status >= 500 ? 'error' : 'info';
    if (!this.opts.accessLog.isLevelEnabled(level)) return;
    const line = {
      method: req.head.method,
      path: req.head.path,
      protocol: req.protocol === 'http2' ? 'HTTP/2' : 'HTTP/1.1',
      authority: req.head.authority,
      response_code: o.status,
      response_flags: flagText,
      duration_ms: Math.round(durationMs * 10) / 10,
      bytes_received: o.requestBytes,
      bytes_sent: o.responseBytes,
      x_request_id: requestId,
      route_name: o.route,
      upstream_host: o.endpoint ? `${o.endpoint.ip}:${o.endpoint.port}` : undefined,
      upstream_cluster: o.backend?.service ? `outbound|${o.backend.port}|${o.backend.subset ?? ''}|${o.backend.service.hostname}` : undefined,
      attempts: o.attempts,
      'src.addr': tunnel.clientIp,
      'src.identity': identityUri(tunnel.peer),
      'dst.service': service?.hostname,
      'dst.workload': dstWorkload?.name,
      policy: o.policy,
      reason: o.reason,
    };
    this.opts.accessLog[level](line, 'request');
  }
}

function setHost(headers: HeaderList, authority: string): void {
  const i = headers.findIndex(([n]) => n === 'host');
  if (i === -1) headers.unshift(['host', authority]);
  else headers[i] = ['host', authority];
  for (let j = headers.length - 1; j > i && i !== -1; j--) if (headers[j]![0] === 'host') headers.splice(j, 1);
}

/**
 * gRPC and declared HTTP/2 ports keep HTTP/2 upstream (trailers); other HTTP/2 clients reach the
 * app over HTTP/1.1, which every app speaks.
 */
function keepsHttp2(req: RequestContext, headers: HeaderList, backend: Backend): boolean {
  if (req.protocol !== 'http2') return false;
  const declared = backend.service?.ports.find((p) => p.servicePort === backend.port)?.appProtocol?.toLowerCase();
  return isGrpc(headers) || declared === 'grpc' || declared === 'http2' || declared === 'h2c' || declared === 'kubernetes.io/h2c';
}

function isGrpc(headers: HeaderList): boolean {
  for (const [n, v] of headers) if (n === 'content-type') return v.startsWith('application/grpc');
  return false;
}
