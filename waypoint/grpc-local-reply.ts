// gRPC's view of the waypoint's own answers: a gRPC client's request refused or failed here (no
// upstream, timeout, RBAC, rate limit...) gets what Envoy's local replies give it — a trailers-only
// response, HTTP 200 with `grpc-status` mapped from the HTTP status and the reason as
// `grpc-message` (Envoy Http::Utility::sendLocalReply, gRPC's http-grpc-status-mapping.md).

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
