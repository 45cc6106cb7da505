// gRPC's view of the waypoint's own answers: a gRPC client's request refused or failed here (no
// upstream, timeout, RBAC, rate limit...) gets what Envoy's local replies give it — a trailers-only
// response, HTTP 200 with `grpc-status` mapped from the HTTP status and the reason as
// `grpc-message` (Envoy Http::Utility::sendLocalReply, gRPC's http-grpc-status-mapping.md); and the
// status names Istio's fault.abort.grpcStatus uses.

/** gRPC content types (`application/grpc`, `application/grpc+proto`, `;` parameters), not gRPC-Web. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (!contentType?.startsWith('application/grpc')) return false;
  const next = contentType.charAt('application/grpc'.length);
  return next === '' || next === '+' || next === ';';
}

/** Envoy's Grpc::Utility::httpToGrpcStatus: the gRPC status a local HTTP status stands for. */
export function httpToGrpcStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** grpc-message is percent-encoded (gRPC PROTOCOL-HTTP2.md): bytes outside 0x20-0x7E, and '%'. */
export function encodeGrpcMessage(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** gRPC's canonical status codes (grpc/doc/statuscodes.md); Istio's fault.abort.grpcStatus names one. */
const grpcCodes: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** A status name (`UNAVAILABLE`) or number (`14`) as its code; unknown names are UNKNOWN (2). */
export function grpcStatusCode(status: string): number {
  if (/^\d+$/.test(status)) return Number(status);
  return grpcCodes[status.toUpperCase()] ?? 2;
}
