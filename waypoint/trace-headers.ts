// Request identity and trace propagation at the waypoint (issue 5, Telemetry): `x-request-id`
// generated with hyperid when absent (kept when present, as Envoy does for internal requests);
// W3C `traceparent` continued with a new child span id (a new trace when absent or malformed,
// `tracestate` kept); B3 (`x-b3-traceid`) continued the same way with `x-b3-parentspanid`.
// Pure over a header list and a span-id source, so tests are deterministic.

export type HeaderList = [string, string][];

const traceparentRe = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const zeroTrace = '0'.repeat(32);
const zeroSpan = '0'.repeat(16);

export interface TraceIds {
  /** A new 16-hex span id per call. */
  spanId(): string;
  /** A new 32-hex trace id per call. */
  traceId(): string;
  requestId(): string;
}

export interface TraceResult {
  readonly requestId: string;
  readonly traceId: string;
  readonly spanId: string;
}

function get(headers: HeaderList, name: string): string | undefined {
  for (const [n, v] of headers) if (n === name) return v;
  return undefined;
}

function set(headers: HeaderList, name: string, value: string): void {
  let done = false;
  for (let i = headers.length - 1; i >= 0; i--) {
    if (headers[i]![0] !== name) continue;
    if (done) headers.splice(i, 1);
    else {
      headers[i]![1] = value;
      done = true;
    }
  }
  if (!done) headers.push([name, value]);
}

/** Sets x-request-id, traceparent and (when B3 is in use) the B3 headers on `headers` in place. */
export function propagateTrace(headers: HeaderList, ids: TraceIds): TraceResult {
  let requestId = get(headers, 'x-request-id');
  if (!requestId || requestId.length > 128) {
    requestId = ids.requestId();
    set(headers, 'x-request-id', requestId);
  }
  const spanId = ids.spanId();
  const parent = traceparentRe.exec(get(headers, 'traceparent') ?? '');
  let traceId: string;
  if (parent && parent[1] !== 'ff' && parent[2] !== zeroTrace && parent[3] !== zeroSpan) {
    traceId = parent[2]!;
    set(headers, 'traceparent', `00-${traceId}-${spanId}-${parent[4]}`);
  } else {
    const b3Trace = get(headers, 'x-b3-traceid');
    traceId = b3Trace && /^([0-9a-f]{16}|[0-9a-f]{32})$/.test(b3Trace) ? b3Trace.padStart(32, '0') : ids.traceId();
    set(headers, 'traceparent', `00-${traceId}-${spanId}-01`);
  }
  const b3Trace = get(headers, 'x-b3-traceid');
  if (b3Trace !== undefined) {
    const b3Parent = get(headers, 'x-b3-spanid');
    if (b3Parent) set(headers, 'x-b3-parentspanid', b3Parent);
    set(headers, 'x-b3-spanid', spanId);
  }
  return { requestId, traceId, spanId };
}
