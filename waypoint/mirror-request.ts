// sendMirror(): Envoy's request mirroring (shadowing) for one request, fire and forget: the copy
// goes to `endpoint` with `-shadow` appended to the host, its body teed from the real request's as
// it is read (up to 1 MiB, else the copy is dropped), its response discarded. It never delays or
// changes the real request.
import { PassThrough, type Readable } from 'node:stream';
import { knownEmptyBody } from '../shared/http/h1-body-stream.js';
import type { Endpoint } from './hbone-http-upstream.js';
import type { HeaderList } from './trace-headers.js';

/** A mirrored request whose body grows past this is dropped (the real one goes on). */
export const mirrorBodyLimitBytes = 1024 * 1024;

/** What sends the copy: the HTTP/1.1 or the HTTP/2 upstream (the way the real request goes). */
export interface MirrorUpstream {
  send(ep: Endpoint, r: { readonly method: string; readonly path: string; readonly headers: HeaderList }, body: Buffer | Readable): void;
}

export function sendMirror(upstream: MirrorUpstream, endpoint: Endpoint, r: { readonly method: string; readonly path: string; readonly headers: HeaderList }, body: Readable): void {
  const headers: HeaderList = [];
  for (const [n, v] of r.headers) headers.push([n, n === 'host' ? `${v.replace(/(:\d+)?$/, '-shadow$1')}` : v]);
  const copy = { method: r.method, path: r.path, headers };
  if (knownEmptyBody(body)) return upstream.send(endpoint, copy, Buffer.alloc(0));
  const tee = new PassThrough();
  tee.on('error', () => undefined);
  upstream.send(endpoint, copy, tee);
  let sent = 0;
  const onData = (c: Buffer): void => {
    sent += c.length;
    if (sent > mirrorBodyLimitBytes) {
      stop();
      tee.destroy();
    } else {
      tee.write(c);
    }
  };
  const onEnd = (): void => {
    stop();
    tee.end();
  };
  const stop = (): void => {
    body.off('data', onData);
    body.off('end', onEnd);
  };
  // Explicitly paused first: the listener must not start the body flowing before the real
  // request's consumer is attached (it would lose those bytes); the copy sees what the real one reads.
  body.pause();
  body.on('data', onData);
  body.once('end', onEnd);
}
