// The downstream half of a request: what routing and policy read (RequestContext, the same for
// HTTP/1.1 and HTTP/2), and HTTP/2's side of it (a stream of an HTTP/2 session over the tunnel):
// the RequestHead, the body, local replies, and relaying an upstream response with the route's
// header changes. HTTP/1.1's side is h1-downstream.ts.
import { constants as h2c, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { RequestHead } from '../shared/http/request-head.js';
import { ClientGone } from './client-gone.js';
import type { Downstream } from './forwarder.js';
import type { HeaderList } from './trace-headers.js';
import { endToEndHeaders, isHopByHop, type H1RequestHead } from '../shared/http/h1-head.js';
import { encodeGrpcMessage, httpToGrpcStatus, isGrpcContentType } from './grpc-local-reply.js';

export interface RequestContext {
  readonly head: RequestHead;
  /** Mutable copy of the request headers (the route and filters edit it). */
  readonly headers: HeaderList;
  readonly protocol: 'http1' | 'http2';
  readonly down: Downstream;
}

/**
 * An HTTP/1.1 request (h1-downstream.ts) as a RequestContext: its end-to-end headers (hop-by-hop
 * ones dropped, and `Expect`, which the waypoint answers itself), the Host as authority.
 */
export function http1Request(h: H1RequestHead, down: Downstream): RequestContext {
  const headers = endToEndHeaders(h.headers);
  if (h.expectContinue) {
    for (let i = headers.length - 1; i >= 0; i--) if (headers[i]![0] === 'expect') headers.splice(i, 1);
  }
  let authority = '';
  for (const [n, v] of headers) {
    if (n === 'host') {
      authority = v;
      break;
    }
  }
  const head: RequestHead = { method: h.method, path: h.target, authority, headers: headers.map(([n, v]) => [n, v] as const) };
  return { head, headers, protocol: 'http1', down };
}

export function http2Request(stream: ServerHttp2Stream, h: IncomingHttpHeaders, rawHeaders: readonly string[]): RequestContext {
  const headers: HeaderList = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.charCodeAt(0) !== 58 /* ':' */ && !isHopByHop(name)) headers.push([name, rawHeaders[i + 1]!]);
  }
  const authority = (h[':authority'] as string | undefined) ?? (h['host'] as string | undefined) ?? '';
  const head: RequestHead = { method: (h[':method'] as string | undefined) ?? '', path: (h[':path'] as string | undefined) ?? '', authority, headers: headers.map(([n, v]) => [n, v] as const) };
  const grpc = isGrpcContentType(h['content-type']);
  const aborted = new ClientGone();
  stream.once('close', () => {
    if (stream.rstCode !== h2c.NGHTTP2_NO_ERROR || !stream.writableFinished) aborted.abort();
  });
  const down: Downstream = {
    body: stream,
    aborted,
    reply(status, body, extra = []) {
      if (stream.headersSent || stream.destroyed) {
        if (!stream.destroyed) stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
        return 0;
      }
      // A gRPC client gets a trailers-only gRPC answer, as from Envoy (grpc-local-reply.ts).
      if (grpc && status !== 200 && !extra.some(([n]) => n === 'grpc-status')) {
        const out: Record<string, string> = {};
        for (const [n, v] of extra) out[n] = v;
        Object.assign(out, { ':status': '200', 'content-type': 'application/grpc', 'grpc-status': String(httpToGrpcStatus(status)) });
        if (body) out['grpc-message'] = encodeGrpcMessage(body);
        stream.respond(out, { endStream: true });
        return 0;
      }
      const buf = Buffer.from(body);
      const out: Record<string, string | string[]> = { ':status': String(status), 'content-length': String(buf.length) };
      if (body) out['content-type'] = 'text/plain';
      for (const [n, v] of extra) out[n] = v;
      stream.respond(out);
      stream.end(buf);
      return buf.length;
    },
    relay(status, list, response) {
      return new Promise((resolve) => {
        const body = response.body;
        let bytes = 0;
        let ended = false;
        const out: Record<string, string | string[]> = { ':status': String(status) };
        for (const [n, v] of list) {
          // RFC 9110 §8.6: no Content-Length in a 204 (an HTTP/2 client refuses the response).
          if (isHopByHop(n) || (status === 204 && n === 'content-length')) continue;
          const prev = out[n];
          out[n] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        }
        if (stream.destroyed) {
          body.destroy();
          return resolve(0);
        }
        // Trailers (gRPC's grpc-status) follow the body: ask Node to wait for them.
        stream.respond(out, { waitForTrailers: true });
        stream.once('wantTrailers', () => {
          const t: Record<string, string> = {};
          for (const [n, v] of response.trailers() ?? []) if (!n.startsWith(':') && !isHopByHop(n)) t[n] = v;
          try {
            stream.sendTrailers(t);
          } catch {
            stream.close();
          }
        });
        body.on('data', (c: Buffer) => (bytes += c.length));
        body.pipe(stream, { end: false });
        body.once('end', () => {
          ended = true;
          stream.end();
          resolve(bytes);
        });
        body.once('error', () => {
          stream.close(h2c.NGHTTP2_INTERNAL_ERROR);
          resolve(bytes);
        });
        stream.once('close', () => {
          if (!ended) body.destroy();
          resolve(bytes);
        });
      });
    },
  };
  return { head, headers, protocol: 'http2', down };
}
