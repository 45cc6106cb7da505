// RequestHead: the parts of an HTTP request (HTTP/1.1 or HTTP/2) that routing, authorization and
// JWT read, in one protocol-neutral shape. Built once per request by the waypoint's listener.

export interface RequestHead {
  /** As received (HTTP/1.1 `GET`, HTTP/2 `:method`); validation happens before routing. */
  readonly method: string;
  /** The request target as received: path and query, never a fragment (`/a/b?x=1`). */
  readonly path: string;
  /** HTTP/1.1 `Host` or HTTP/2 `:authority`, as received (may carry a port). */
  readonly authority: string;
  /** Every header in order received, names lower-cased, repeated headers repeated. No pseudo-headers. */
  readonly headers: readonly (readonly [string, string])[];
}

/** All values of header `name` (lower-case), in order. */
export function headerValues(head: Pick<RequestHead, 'headers'>, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of head.headers) if (n === name) out.push(v);
  return out;
}

/** The first value of header `name` (lower-case), or undefined. */
export function headerValue(head: Pick<RequestHead, 'headers'>, name: string): string | undefined {
  for (const [n, v] of head.headers) if (n === name) return v;
  return undefined;
}
