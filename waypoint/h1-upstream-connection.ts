// H1UpstreamConnection: one kept HTTP/1.1 connection inside an HBONE tunnel to an endpoint, one
// exchange at a time: writes the request (h1-request-writer.ts), parses the response
// head strictly (shared/http/h1-head.ts; 1xx skipped), streams the body by its framing, and goes
// back to its owner for reuse only when both messages ended cleanly on a keep-alive connection.
import type { ClientHttp2Stream } from 'node:http2';
import type { Readable } from 'node:stream';
import { BodyStream, type BodySource } from '../shared/http/h1-body-stream.js';
import { BodyFramer } from '../shared/http/h1-body-framer.js';
import { defaultH1Limits, endToEndHeaders, parseResponseHead } from '../shared/http/h1-head.js';
import type { AbortLike } from './client-gone.js';
import type { AttemptOutcome, AttemptResult } from './forwarder.js';
import { writeRequest } from './h1-request-writer.js';
import type { HeaderList } from './trace-headers.js';

export interface ConnectionOwner {
  /** The exchange ended cleanly and the connection may carry another. */
  release(c: H1UpstreamConnection): void;
  /** The connection is gone (closed by either side). */
  closed(c: H1UpstreamConnection): void;
}

export interface ExchangeRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: HeaderList;
  readonly maxRequestsPerConnection?: number;
}

const Phase = { idle: 0, head: 1, body: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];


export class H1UpstreamConnection implements BodySource {
  private readonly stream: ClientHttp2Stream;
  private readonly owner: ConnectionOwner;
  private phase: Phase = Phase.idle;
  private dead = false;
  private served = 0;
  private buf: Buffer = Buffer.alloc(0);
  private scanned = 0;
  // The exchange in progress.
  private method = '';
  private lastRequest = false;
  private requestSent = false;
  private settle: ((r: AttemptResult) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private aborted: AbortLike | undefined;
  private body: BodyStream | undefined;
  private framer: BodyFramer | undefined;
  private keepAlive = false;

  constructor(stream: ClientHttp2Stream, owner: ConnectionOwner) {
    this.stream = stream;
    this.owner = owner;
    stream.on('data', (c: Buffer) => this.onData(c));
    stream.on('end', () => this.onEnd());
    stream.on('error', () => undefined);
    stream.once('close', () => this.onClose());
  }

  get reusable(): boolean {
    return !this.dead && this.phase === Phase.idle && !this.stream.destroyed && this.stream.writable && !this.stream.readableEnded;
  }

  pauseBody(): void {
    this.stream.pause();
  }

  resumeBody(): void {
    if (!this.dead) this.stream.resume();
  }

  /** Sends one request; resolves when the response head arrived (body not read) or it failed. */
  exchange(r: ExchangeRequest, body: Buffer | Readable, timeoutMs: number | undefined, aborted: AbortLike): Promise<AttemptResult> {
    return new Promise((resolve) => {
      if (this.dead) return resolve({ outcome: { kind: 'reset' } }); // closed while being handed out
      this.phase = Phase.head;
      this.method = r.method;
      this.settle = resolve;
      this.aborted = aborted;
      this.requestSent = false;
      this.served++;
      this.lastRequest = r.maxRequestsPerConnection !== undefined && r.maxRequestsPerConnection > 0 && this.served >= r.maxRequestsPerConnection;
      if (timeoutMs !== undefined) this.timer = setTimeout(() => this.fail({ kind: 'per-try-timeout' }), timeoutMs);
      aborted.addEventListener('abort', this.onAbort, { once: true });
      this.writeRequest(r, body);
      this.stream.resume();
    });
  }

  destroy(): void {
    if (this.dead) return;
    this.dead = true;
    this.phase = Phase.idle;
    if (this.timer) clearTimeout(this.timer);
    this.detachRequestBody();
    // Closed before the response head (the owner closing it, the request body failing): the
    // attempt ends as a reset rather than never.
    const settle = this.settle;
    this.settle = undefined;
    this.aborted?.removeEventListener('abort', this.onAbort);
    settle?.({ outcome: { kind: 'reset' } });
    const body = this.body;
    this.body = undefined;
    if (body && !body.complete) body.destroy(new Error('upstream connection closed mid-body'));
    if (!this.stream.destroyed) this.stream.close();
    this.owner.closed(this);
  }

  private readonly onAbort = (): void => this.fail({ kind: 'reset' });

  private writeRequest(r: ExchangeRequest, body: Buffer | Readable): void {
    const sent = (): void => {
      this.requestSent = true;
      if (this.phase === Phase.idle) this.finishExchange(); // the response already ended
    };
    const closedEarly = (): void => {
      if (!this.requestSent) this.destroy();
    };
    const written = writeRequest(this.stream, r, body, this.lastRequest, { fail: () => this.destroy(), sent, closedEarly });
    this.detach = written?.detach;
  }

  private detach: (() => void) | undefined;

  private detachRequestBody(): void {
    this.detach?.();
    this.detach = undefined;
  }

  /** The attempt ends before a response head: the connection cannot be trusted for another. */
  private fail(outcome: AttemptOutcome): void {
    const settle = this.settle;
    this.settle = undefined;
    this.aborted?.removeEventListener('abort', this.onAbort);
    this.destroy();
    settle?.({ outcome });
  }

  private onData(chunk: Buffer): void {
    if (this.phase === Phase.body) return this.feedBody(chunk);
    if (this.phase !== Phase.head) return this.destroy(); // bytes nobody asked for
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    this.parseHead();
  }

  private parseHead(): void {
    const parsed = parseResponseHead(this.buf, this.method, defaultH1Limits, this.scanned);
    if (parsed.kind === 'incomplete') {
      this.scanned = this.buf.length;
      return;
    }
    if (parsed.kind === 'error') return this.fail({ kind: 'reset' });
    const rest = this.buf.subarray(parsed.consumed);
    this.buf = Buffer.alloc(0);
    this.scanned = 0;
    const h = parsed.head;
    if (h.status < 200) {
      // 100 Continue, 102, 103: informational, not forwarded. 101 would switch protocols: refused.
      if (h.status === 101) return this.fail({ kind: 'reset' });
      if (rest.length > 0) this.onData(rest);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.aborted?.removeEventListener('abort', this.onAbort);
    this.keepAlive = h.keepAlive;
    const framing = h.framing;
    const body = new BodyStream(this, framing.kind === 'length' ? framing.length : undefined);
    this.framer = new BodyFramer(framing, body);
    this.body = body;
    this.phase = Phase.body;
    // The reader dropped the body before its end: this connection is mid-message, not reusable.
    body.once('close', () => {
      if (!body.complete) this.destroy();
    });
    const headers = endToEndHeaders(h.headers);
    let grpc: number | undefined;
    for (const [n, v] of headers) if (n === 'grpc-status' && /^\d+$/.test(v)) grpc = Number(v);
    const settle = this.settle;
    this.settle = undefined;
    settle?.({
      outcome: { kind: 'response', status: h.status, ...(grpc !== undefined ? { grpcStatus: grpc } : {}) },
      response: { headers, body, trailers: () => this.bodyTrailers.get(body) },
    });
    // An empty body ends with its head: bytes after it are another response nobody asked for.
    if (framing.kind === 'length' && framing.length === 0) this.bodyEnded([], rest);
    else if (rest.length > 0) this.feedBody(rest);
  }

  private readonly bodyTrailers = new WeakMap<BodyStream, HeaderList>();

  private feedBody(chunk: Buffer): void {
    const step = this.framer!.push(chunk);
    if (step.kind === 'more') return;
    if (step.kind === 'error') {
      this.body!.destroy(new Error(`upstream: ${step.reason}`));
      return this.destroy();
    }
    this.bodyEnded(step.trailers, step.rest);
  }

  private bodyEnded(trailers: HeaderList, rest?: Buffer): void {
    const body = this.body!;
    if (trailers.length > 0) this.bodyTrailers.set(body, trailers);
    this.body = undefined;
    this.phase = Phase.idle;
    body.finish();
    // Bytes after a complete response on a one-at-a-time connection: the peer is confused.
    if (rest && rest.length > 0) return this.destroy();
    if (this.requestSent) this.finishExchange();
  }

  /** Both messages are complete: back to the owner, or closed. */
  private finishExchange(): void {
    if (this.dead) return;
    if (!this.keepAlive || this.lastRequest || !this.reusable) return this.destroy();
    this.owner.release(this);
  }

  private onEnd(): void {
    if (this.phase === Phase.body && this.framer?.untilClose) {
      const body = this.body!;
      this.body = undefined;
      this.phase = Phase.idle;
      body.finish();
    } else if (this.phase === Phase.body) {
      this.body?.destroy(new Error('upstream closed mid-body'));
    } else if (this.phase === Phase.head) {
      return this.fail({ kind: 'reset' });
    }
    this.destroy();
  }

  private onClose(): void {
    if (this.phase === Phase.head) this.fail({ kind: 'reset' });
    else if (this.phase === Phase.body && !this.framer?.untilClose) this.body?.destroy(new Error('upstream reset mid-body'));
    else if (this.phase === Phase.body) this.onEnd();
    this.destroy();
  }
}
