// H1Downstream: the server side of HTTP/1.1 inside one HBONE tunnel, written for the hot path
// instead of node:http's server over a stream adapter (about half of the waypoint's CPU went to
// node:http; bench/README.md "Waypoint hop"). One request at a time per tunnel (pipelined bytes wait
// their turn): the strict head parser (shared/http/h1-head.ts) refuses malformed requests with
// 400/431 before routing, the body is streamed by its framing, local replies and relayed responses
// are serialized here (head and first body bytes in one write). Limits of a front proxy: 60 KiB of
// headers, `headersTimeoutMs` to send them (408), `idleTimeoutMs` between requests.
import type { Duplex } from 'node:stream';
import { BodyStream, type BodySource } from '../shared/http/h1-body-stream.js';
import { BodyFramer } from '../shared/http/h1-body-framer.js';
import { defaultH1Limits, parseRequestHead, type H1RequestHead } from '../shared/http/h1-head.js';
import type { Logger } from '../shared/log.js';
import { ClientGone } from './client-gone.js';
import { ConnectionDeadline } from './connection-deadline.js';
import type { UpstreamResponse } from './forwarder.js';
import type { HeaderList } from './trace-headers.js';
import { http1Request, type RequestContext } from './downstream.js';
import { continueLine, localReply, resetTunnel, responseHead, sendRelayed, type PumpEnd } from './h1-response.js';

export interface H1DownstreamOptions {
  readonly logger: Logger;
  readonly headersTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly onRequest: (req: RequestContext) => void;
}

const Phase = { head: 0, body: 1, waiting: 2, closed: 3 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];


/** Serves HTTP/1.1 on `stream` (an accepted HBONE tunnel whose first bytes looked like HTTP/1). */
export function serveHttp1(stream: Duplex, opts: H1DownstreamOptions): void {
  new H1Connection(stream, opts);
}

class H1Connection implements BodySource {
  private readonly stream: Duplex;
  private readonly opts: H1DownstreamOptions;
  private phase: Phase = Phase.head;
  private buf: Buffer = Buffer.alloc(0);
  private scanned = 0;
  /** What the connection waits for: the next head (408), more body (408 or reset), or nothing (idle close). */
  private readonly deadline = new ConnectionDeadline<'head' | 'body' | 'idle'>((kind) => this.expired(kind));
  private graceTimer: NodeJS.Timeout | undefined;
  private peerEnded = false;
  // The request in progress.
  private head: H1RequestHead | undefined;
  private body: BodyStream | undefined;
  private framer: BodyFramer | undefined;
  private gone: ClientGone | undefined;
  private responseStarted = false;
  private closeAfter = false;
  private bodyPaused = false;

  constructor(stream: Duplex, opts: H1DownstreamOptions) {
    this.stream = stream;
    this.opts = opts;
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('end', () => this.onEnd());
    stream.on('close', () => this.onClose());
    this.deadline.arm('idle', opts.idleTimeoutMs);
    stream.resume();
  }

  pauseBody(): void {
    this.bodyPaused = true;
    this.stream.pause();
    // Our own backpressure (an upstream reading slowly) is not the client being slow.
    if (this.phase === Phase.body) this.deadline.disarm();
  }

  resumeBody(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    if (this.phase === Phase.closed) return;
    this.stream.resume();
    if (this.phase === Phase.body) this.armBodyTimer();
  }

  /**
   * A request body must keep arriving: `idleTimeoutMs` without a byte of it (while we read) ends
   * the request, as Envoy's stream idle timeout does (408 before a response, else a reset).
   */
  private armBodyTimer(): void {
    this.deadline.arm('body', this.opts.idleTimeoutMs);
  }

  private expired(kind: 'head' | 'body' | 'idle'): void {
    if (kind === 'head') this.refuse(408, 'request headers not received in time');
    else if (kind === 'idle') this.close();
    else this.bodyTimedOut();
  }

  private bodyTimedOut(): void {
    this.opts.logger.info({ reason: 'request body not received in time', status: 408 }, 'request body timed out');
    this.body?.destroy(new Error('request body not received in time'));
    this.closeAfter = true;
    if (this.responseStarted) return this.reset();
    this.reply(408, 'Request Timeout');
  }

  private onData(chunk: Buffer): void {
    if (this.phase === Phase.body) return this.feedBody(chunk);
    if (this.phase === Phase.closed) return;
    if (this.buf.length === 0) {
      this.buf = chunk;
      if (this.phase === Phase.head) this.deadline.arm('head', this.opts.headersTimeoutMs);
    } else {
      this.buf = Buffer.concat([this.buf, chunk]);
    }
    if (this.phase === Phase.head) this.parseHead();
    // Pipelined bytes beyond one head's worth while a response is pending: stop reading.
    else if (this.buf.length > defaultH1Limits.maxHeadBytes) this.stream.pause();
  }

  private parseHead(): void {
    const parsed = parseRequestHead(this.buf, defaultH1Limits, this.scanned);
    if (parsed.kind === 'incomplete') {
      this.scanned = this.buf.length;
      return;
    }
    if (parsed.kind === 'error') return this.refuse(parsed.status, parsed.reason);
    this.deadline.disarm();
    const rest = this.buf.subarray(parsed.consumed);
    this.buf = Buffer.alloc(0);
    this.scanned = 0;
    this.startRequest(parsed.head);
    if (rest.length > 0) this.onData(rest);
  }

  private startRequest(h: H1RequestHead): void {
    this.head = h;
    this.responseStarted = false;
    this.closeAfter = !h.keepAlive || this.peerEnded;
    const framing = h.framing;
    const body = new BodyStream(this, framing.kind === 'length' ? framing.length : undefined);
    this.framer = new BodyFramer(framing, body);
    // Paused until the consumer that forwards it asks (pipe() or resume()): a listener that only
    // counts bytes must not start it flowing while the upstream is still connecting (lost bytes).
    body.pause();
    this.body = body;
    this.phase = Phase.body;
    if (framing.kind === 'length' && framing.length === 0) this.bodyDone();
    else this.armBodyTimer();
    // We answer `Expect: 100-continue` ourselves and do not forward it (Envoy's default).
    if (h.expectContinue && !body.complete) this.stream.write(continueLine);
    const gone = new ClientGone();
    this.gone = gone;
    this.opts.onRequest(http1Request(h, {
      body,
      aborted: gone,
      reply: (status, text, extra) => this.reply(status, text, extra),
      relay: (status, list, response) => this.relay(status, list, response),
    }));
  }

  private feedBody(chunk: Buffer): void {
    this.deadline.extend();
    const step = this.framer!.push(chunk);
    if (step.kind === 'more') return;
    if (step.kind === 'error') {
      this.opts.logger.info({ reason: step.reason, status: 400 }, 'malformed http request refused');
      this.body!.destroy(new Error(step.reason));
      this.closeAfter = true;
      if (!this.responseStarted) this.reply(400, 'Bad Request');
      else this.close();
      return;
    }
    this.bodyDone();
    if (step.rest.length > 0) this.onData(step.rest);
  }

  private bodyDone(): void {
    this.deadline.disarm();
    this.body!.finish();
    this.phase = Phase.waiting;
  }

  /** A complete local answer; returns the body bytes. */
  private reply(status: number, text: string, extra: HeaderList = []): number {
    if (this.responseStarted || this.phase === Phase.closed) {
      this.close();
      return 0;
    }
    this.responseStarted = true;
    const { bytes, bodyLength } = localReply(status, text, extra, this.connectionHeader(), this.head?.method === 'HEAD');
    this.stream.write(bytes);
    this.responseDone();
    return bodyLength;
  }

  private relay(status: number, list: HeaderList, response: UpstreamResponse): Promise<number> {
    if (this.responseStarted || this.phase === Phase.closed) {
      response.body.destroy();
      return Promise.resolve(0);
    }
    this.responseStarted = true;
    const h = this.head!;
    const bodiless = h.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    const built = responseHead(status, list, { bodiless, http10: h.minor === 0 });
    const { chunked, length } = built;
    // HTTP/1.0 clients get a body of unknown length delimited by our close.
    if (built.closeDelimited) this.closeAfter = true;
    const head = `${built.head}${this.connectionHeader()}\r\n`;
    const sent = sendRelayed(this.stream, head, response.body, { chunked, bodiless, ...(length !== undefined ? { length } : {}), trailers: () => response.trailers() });
    // A body cut short, too long for its length, or broken upstream: reset, not a clean end,
    // which a close-delimited (HTTP/1.0) body would read as complete.
    const after = (r: { bytes: number; end: PumpEnd }): number => {
      if (r.end === 'ended') this.responseDone();
      else if (r.end !== 'closed') this.reset();
      return r.bytes;
    };
    return sent instanceof Promise ? sent.then(after) : Promise.resolve(after(sent));
  }

  /** `connection: close` when this is the last response; HTTP/1.0 clients need `keep-alive` said. */
  private connectionHeader(): string {
    if (this.mustClose()) return 'connection: close\r\n';
    return this.head?.minor === 0 ? 'connection: keep-alive\r\n' : '';
  }

  private mustClose(): boolean {
    return this.closeAfter || this.peerEnded || (this.body !== undefined && !this.body.complete);
  }

  /** The response was written completely: next request, or close. */
  private responseDone(): void {
    if (this.phase === Phase.closed) return;
    this.gone = undefined;
    if (this.mustClose()) return this.close();
    this.head = undefined;
    this.body = undefined;
    this.phase = Phase.head;
    // The tunnel may still be paused for the last body's backpressure (an app that answered before
    // reading it all): what the client sends next is a new request and must be read.
    this.bodyPaused = false;
    this.stream.resume();
    if (this.buf.length > 0) {
      this.deadline.arm('head', this.opts.headersTimeoutMs);
      this.parseHead();
    } else {
      this.deadline.arm('idle', this.opts.idleTimeoutMs);
    }
  }

  /** Malformed request: the status, then close; the proxy stays up. */
  private refuse(status: number, reason: string): void {
    this.opts.logger.info({ reason, status }, 'malformed http request refused');
    this.closeAfter = true;
    // Waiting for a head, no request is in progress: a started response was the previous request's.
    if (this.phase === Phase.head) this.responseStarted = false;
    if (this.responseStarted || this.phase === Phase.closed) return this.close();
    this.phase = Phase.waiting;
    this.reply(status, '');
  }

  private close(): void {
    if (!this.shut()) return;
    // Our side ends once written; what the client still sends is read and dropped. A client that
    // keeps its side open for another idle timeout is reset (like Envoy's delayed close, but long
    // enough that a slow reader is not cut off: the reset reaches its TCP socket): an idle or
    // refused client cannot hold a tunnel forever.
    this.stream.end(() => {
      if (!this.stream.destroyed) this.graceTimer = setTimeout(() => resetTunnel(this.stream), this.opts.idleTimeoutMs);
    });
    this.stream.resume();
  }

  /** Ends the tunnel abruptly (a response that cannot be completed): no clean end first. */
  private reset(): void {
    this.shut();
    resetTunnel(this.stream);
  }

  /** No more requests on this connection; false if it was already shut or is gone. */
  private shut(): boolean {
    if (this.phase === Phase.closed) return false;
    this.phase = Phase.closed;
    this.deadline.dispose();
    this.buf = Buffer.alloc(0);
    // The rest of a request body will not be read: its consumers (an upstream mid-request) must see it end.
    if (this.body && !this.body.complete) this.body.destroy();
    return !this.stream.destroyed;
  }

  private onEnd(): void {
    this.peerEnded = true;
    // Nothing in progress: the client is done with this connection.
    if (this.phase === Phase.head) this.close();
    else if (this.phase === Phase.body) {
      // The body was cut short.
      this.body?.destroy(new Error('client closed before the request body ended'));
      this.gone?.abort();
      this.close();
    }
  }

  private onClose(): void {
    const wasOpen = this.phase !== Phase.closed;
    this.phase = Phase.closed;
    this.deadline.dispose();
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (wasOpen || this.gone) {
      if (this.body && !this.body.complete) this.body.destroy();
      this.gone?.abort();
    }
  }
}
