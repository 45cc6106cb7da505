// HboneServer: the inbound end of HBONE. Takes raw TCP sockets from its owner's listener with the
// certificate to serve (chosen before the handshake: ztunnel picks by original destination),
// runs mutual TLS 1.3 + HTTP/2, validates each CONNECT, asks the owner's handler for an upstream,
// answers 200 only once it has one, and relays. Status codes follow ztunnel's inbound: 400 bad
// request or authority, 401 denied, 503 unknown or unreachable upstream.
import type { EventEmitter } from 'node:events';
import http2, { constants as h2c, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { checkPeerCertificate, hboneAlpn, hboneTlsOptions } from '../identity/tls.js';
import { formatIdentity, type Identity } from '../identity/spiffe.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import { H2Session } from '../h2/h2-session.js';
import { H2Stream, type H2Headers } from '../h2/h2-stream.js';
import { relayThen, type RelayResult } from '../net/relay.js';
import { parseHboneAuthority, type HboneAuthority } from './authority.js';
import { startKeepalive } from './keepalive.js';
import { HboneDefaults, leanSessionOptions, serverH2Settings, sessionLimits, type HboneEngine } from './settings.js';
import { HboneServerStats } from './server-stats.js';

/** What the owner knows about a socket before TLS (e.g. its original destination). */
export interface HboneSocketContext {
  readonly originalDst?: { readonly ip: string; readonly port: number };
}

export interface HboneConnectRequest {
  readonly peer: Identity;
  readonly authority: HboneAuthority;
  /** Request headers (forwarded, baggage, traceparent...), in a null-prototype object. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly context: HboneSocketContext;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /**
   * Aborted when the client resets the stream or the session dies while the handler decides
   * (with an `upstream` decision, not after the tunnel is relayed: then `onDone` tells the end).
   */
  readonly signal: AbortSignal;
}

export type HboneConnectDecision =
  | { readonly status: 200; readonly upstream: Socket; readonly onDone?: (result: RelayResult) => void }
  /** The owner terminates the tunnel itself (a waypoint): after the 200 it gets the stream. */
  | { readonly status: 200; readonly take: (stream: ServerHttp2Stream) => void }
  | { readonly status: 400 | 401 | 503; readonly reason: string };

export type HboneConnectHandler = (req: HboneConnectRequest) => Promise<HboneConnectDecision>;

export interface HboneServerOptions {
  readonly trustDomain: string;
  readonly onConnect: HboneConnectHandler;
  readonly logger: Logger;
  readonly handshakeTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  /** After a graceful close (GOAWAY), streams get this long before the session is destroyed. */
  readonly closeGraceMs?: number;
  readonly maxConnections?: number;
  readonly stats?: HboneServerStats;
  /** The HTTP/2 implementation (settings.ts, default `lean`); `take` decisions need `node` (a Duplex stream). */
  readonly engine?: HboneEngine;
}

type ServerSession = ServerHttp2Session | H2Session;
type ServerStream = ServerHttp2Stream | H2Stream;

interface SessionState {
  readonly session: ServerSession;
  readonly peer: Identity;
  streams: number;
  premature: number;
  /** Streams the lean engine refused before they reached us (malformed, over the stream limit). */
  rejected: number;
  tickStreams: number;
  tickScheduled: boolean;
}

function addressKey(s: Socket): string {
  return `${s.remoteAddress}|${s.remotePort}|${s.localAddress}|${s.localPort}`;
}

export class HboneServer {
  readonly stats: HboneServerStats;
  private readonly opts: HboneServerOptions;
  private readonly log: Logger;
  private readonly tlsServers = new WeakMap<WorkloadCertificate, tls.Server>();
  /** What the owner told us about each socket, by address tuple, until the socket closes. */
  private readonly pendingContexts = new Map<string, HboneSocketContext>();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<SessionState>();
  private closing = false;
  /** One listener for every stream's 'error' (not a closure per stream). */
  private readonly onStreamError = (err: Error): void => this.log.debug({ err: err.message }, 'hbone stream error');

  constructor(opts: HboneServerOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.stats = opts.stats ?? new HboneServerStats();
  }

  /** Open TCP connections (before and after the handshake) and live HTTP/2 sessions. */
  connectionCount(): number {
    return this.sockets.size;
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  /** Serves one accepted TCP socket with `cert`. Never throws; failures close this socket only. */
  handleSocket(raw: Socket, cert: WorkloadCertificate, context: HboneSocketContext = {}): void {
    raw.on('error', (err) => this.log.debug({ err: err.message }, 'hbone socket error'));
    if (this.closing || this.sockets.size >= (this.opts.maxConnections ?? HboneDefaults.maxServerConnections)) {
      this.stats.rejectConnection(this.closing ? 'shutting_down' : 'too_many_connections');
      raw.destroy();
      return;
    }
    this.sockets.add(raw);
    raw.setNoDelay(true);
    raw.setKeepAlive(true, HboneDefaults.tcpKeepAliveMs);
    const key = addressKey(raw);
    this.pendingContexts.set(key, context);
    raw.once('close', () => {
      this.sockets.delete(raw);
      this.pendingContexts.delete(key);
    });
    this.tlsServerFor(cert).emit('connection', raw);
  }

  /** Stops taking sockets; GOAWAY to every session so clients move on, and in-flight streams finish. */
  drain(): void {
    this.closing = true;
    for (const s of this.sessions) if (!s.session.closed) closeThenDestroy(s.session, this.closeGraceMs());
  }

  /** Drains, then destroys whatever is left after `deadlineMs`. */
  async close(deadlineMs = 0): Promise<void> {
    this.drain();
    const deadline = Date.now() + deadlineMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.sessions) destroySession(s.session, h2c.NGHTTP2_CANCEL);
    for (const s of this.sockets) s.destroy();
  }

  private tlsServerFor(cert: WorkloadCertificate): tls.Server {
    let server = this.tlsServers.get(cert);
    if (server) return server;
    // tls.Server builds its context from these options once; one server per certificate.
    server = tls.createServer({
      ...hboneTlsOptions(cert),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [hboneAlpn],
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? HboneDefaults.handshakeTimeoutMs,
    });
    server.on('secureConnection', (socket: TLSSocket) => this.onSecure(socket));
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      const reason = err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'handshake_failed';
      this.stats.rejectConnection(reason);
      this.log.info({ reason, err: err.message, peer: socket.remoteAddress }, 'hbone handshake rejected');
      // Node reports a handshake timeout here without closing the socket: a slowloris would keep it.
      socket.destroy();
    });
    this.tlsServers.set(cert, server);
    return server;
  }

  private onSecure(socket: TLSSocket): void {
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'hbone tls error'));
    const context = this.pendingContexts.get(addressKey(socket)) ?? {};
    // The client sees a plain close here (TLS 1.3 finished on its side already). A TCP RST would
    // be clearer, but resetting the raw socket under Node's TLSWrap crashed Node 20 (SIGSEGV).
    const refuse = (): void => void socket.destroy();
    if (socket.alpnProtocol !== hboneAlpn) {
      this.stats.rejectConnection('alpn');
      this.log.info({ peer: socket.remoteAddress, alpn: socket.alpnProtocol }, 'hbone handshake rejected: no h2 alpn');
      return refuse();
    }
    const check = checkPeerCertificate(socket.getPeerCertificate()?.raw, { role: 'client', trustDomain: this.opts.trustDomain });
    if (!check.ok) {
      this.stats.rejectConnection(check.reason);
      this.log.info({ peer: socket.remoteAddress, reason: check.reason, detail: check.detail }, 'hbone peer rejected');
      return refuse();
    }
    const session: ServerSession = (this.opts.engine ?? 'lean') === 'lean'
      ? new H2Session(socket, leanSessionOptions('server'))
      : http2.performServerHandshake(socket, { settings: serverH2Settings(), ...sessionLimits });
    const events = session as EventEmitter;
    const state: SessionState = { session, peer: check.identity, streams: 0, premature: 0, rejected: 0, tickStreams: 0, tickScheduled: false };
    this.sessions.add(state);
    this.stats.sessionOpened();
    events.on('error', (err: Error) => this.log.debug({ err: err.message }, 'hbone session error'));
    events.on('close', () => {
      this.sessions.delete(state);
      this.stats.sessionClosed();
    });
    if (session instanceof H2Session) events.on('streamRejected', (reason: string) => this.onLeanStreamRejected(state, reason));
    else session.once('connect', () => session.setLocalWindowSize(HboneDefaults.connectionWindowBytes));
    // A client that finishes TLS but never sends its preface/SETTINGS is cut at the handshake timeout.
    const prefaceTimer = setTimeout(() => {
      this.stats.rejectConnection('preface_timeout');
      destroySession(session, h2c.NGHTTP2_CANCEL);
    }, this.opts.handshakeTimeoutMs ?? HboneDefaults.handshakeTimeoutMs);
    prefaceTimer.unref();
    events.once('remoteSettings', () => clearTimeout(prefaceTimer));
    events.once('close', () => clearTimeout(prefaceTimer));
    session.setTimeout(this.opts.idleTimeoutMs ?? HboneDefaults.serverIdleTimeoutMs, () => closeThenDestroy(session, this.closeGraceMs()));
    startKeepalive(session, {
      intervalMs: this.opts.pingIntervalMs ?? HboneDefaults.pingIntervalMs,
      timeoutMs: this.opts.pingTimeoutMs ?? HboneDefaults.pingTimeoutMs,
      onDead: () => {
        this.stats.rejectConnection('ping_timeout');
        destroySession(session, h2c.NGHTTP2_CANCEL);
      },
    });
    this.limitControlFrames(session);
    events.on('stream', (stream: ServerStream, headers: IncomingHttpHeaders | H2Headers) => this.onStream(state, stream, headers, context, socket));
    if (this.closing) session.close();
  }

  private onStream(state: SessionState, stream: ServerStream, headers: IncomingHttpHeaders | H2Headers, context: HboneSocketContext, socket: TLSSocket): void {
    const streamEvents = stream as EventEmitter;
    streamEvents.on('error', this.onStreamError);
    state.streams++;
    this.stats.streamOpened();
    const openedAt = Date.now();
    // The request's AbortSignal is made only if the handler reads it (an AbortController per
    // stream was 2.4 % of serve's CPU at high connection rates); `aborted` answers meanwhile.
    let abort: AbortController | undefined;
    let aborted = false;
    const abortRequest = (): void => {
      aborted = true;
      abort?.abort();
    };
    let responded = false;
    let closedByUs = false;
    // 'close' comes once: on() spares once()'s wrapper per stream.
    streamEvents.on('close', () => {
      this.stats.streamClosed();
      if (!responded || stream.rstCode !== h2c.NGHTTP2_NO_ERROR) abortRequest();
      // Only resets the peer sent count as premature: our own refusals are not the peer's doing.
      if (!closedByUs && stream.rstCode !== h2c.NGHTTP2_NO_ERROR && !stream.sentHeaders && Date.now() - openedAt < HboneDefaults.prematureResetWindowMs) {
        state.premature++;
        this.checkPrematureResets(state);
      }
    });
    if (!this.admitStream(state)) {
      closedByUs = true;
      stream.close(h2c.NGHTTP2_REFUSED_STREAM);
      return;
    }
    // Node enforces SETTINGS_MAX_HEADER_LIST_SIZE only once the client acknowledged our SETTINGS;
    // until then a compressed header block can decode far past 64 KiB. Count it ourselves
    // (RFC 9113 §6.5.2: name + value + 32 per field). The lean engine's decoder already enforces
    // the same limit on every block (leanSessionOptions), so its streams are not counted twice.
    if (!(stream instanceof H2Stream) && headerListBytes(headers) > HboneDefaults.serverMaxHeaderListBytes) {
      closedByUs = true;
      this.stats.rejectStream(0, 'headers_too_large');
      stream.close(h2c.NGHTTP2_ENHANCE_YOUR_CALM);
      return;
    }
    // `reply` (like the 'close' listener above) shares this call's closure context, which lives as
    // long as the stream: it reads the authority, not `headers`, so the request's header object
    // (forwarded, baggage, traceparent) is not kept per open tunnel.
    const authorityHeader = headers[':authority'];
    const reply = (status: 400 | 401 | 503, reason: string): void => {
      this.stats.rejectStream(status, reason);
      this.log.info({ status, reason, peer: formatIdentity(state.peer), authority: authorityHeader }, 'hbone connect rejected');
      respondSafely(stream, status, true);
    };
    if (headers[':method'] !== 'CONNECT') return reply(400, 'method_not_connect');
    // On Node 20 nghttp2 already resets these two with PROTOCOL_ERROR; kept for runtimes that pass them.
    if (headers[':protocol'] !== undefined) return reply(400, 'extended_connect');
    if (headers[':path'] !== undefined || headers[':scheme'] !== undefined) return reply(400, 'connect_with_path');
    const parsed = parseHboneAuthority(headers[':authority']);
    if (!parsed.ok) return reply(400, `bad_authority: ${parsed.reason}`);

    const plain: Record<string, string | string[] | undefined> = Object.create(null);
    for (const k in headers) if (k.charCodeAt(0) !== 58 /* ':' */) plain[k] = headers[k];
    const request: HboneConnectRequest = {
      peer: state.peer,
      authority: parsed.authority,
      headers: plain,
      context,
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      get signal(): AbortSignal {
        if (!abort) {
          abort = new AbortController();
          if (aborted) abort.abort();
        }
        return abort.signal;
      },
    };
    this.opts.onConnect(request).then(
      (decision) => {
        if (decision.status !== 200) return reply(decision.status, decision.reason);
        if ('take' in decision) {
          if (stream instanceof H2Stream) return reply(503, 'take_needs_node_engine');
          if (stream.destroyed || aborted) return;
          responded = true;
          if (!respondSafely(stream, 200, false)) return;
          this.stats.streamAccepted();
          decision.take(stream);
          return;
        }
        const upstream = decision.upstream;
        if (stream.destroyed || aborted) {
          upstream.destroy();
          return;
        }
        responded = true;
        if (!respondSafely(stream, 200, false)) {
          upstream.destroy();
          return;
        }
        this.stats.streamAccepted();
        // From here the relay's result (onDone) tells how the tunnel ended; the request's signal
        // is not kept per open tunnel (an AbortController with its listener maps, ~0.4 KB).
        abort = undefined;
        relayThen(stream, upstream, decision.onDone ?? ignoreResult);
      },
      (err: unknown) => {
        this.log.warn({ err: (err as Error)?.message }, 'hbone connect handler failed');
        reply(503, 'handler_error');
      },
    );
  }

  /**
   * PING and SETTINGS each make us write an ACK: a paced flood of them stays under nghttp2's
   * outstanding-ACK limit yet burns CPU forever. More than the budget per second closes the session.
   */
  private limitControlFrames(session: ServerSession): void {
    let windowStart = Date.now();
    let count = 0;
    const onFrame = (): void => {
      const now = Date.now();
      if (now - windowStart >= 1000) {
        windowStart = now;
        count = 0;
      }
      if (++count > HboneDefaults.maxControlFramesPerSecond && !session.destroyed) {
        this.stats.rejectConnection('control_frame_flood');
        this.log.warn({ frames: count }, 'hbone session closed: control frame flood');
        destroySession(session, h2c.NGHTTP2_ENHANCE_YOUR_CALM);
      }
    };
    (session as EventEmitter).on('ping', onFrame);
    (session as EventEmitter).on('remoteSettings', onFrame);
  }

  /**
   * nghttp2 ends a session after maxSessionRejectedStreams streams it refused itself (Node's
   * option of that name); the lean engine only reports them, so the budget is kept here: without
   * it a peer could send malformed HEADERS forever, each one decoded and answered with a reset.
   */
  private onLeanStreamRejected(state: SessionState, reason: string): void {
    this.stats.rejectStream(0, reason);
    if (++state.rejected <= HboneDefaults.maxSessionRejectedStreams || state.session.destroyed) return;
    this.stats.rejectConnection('rejected_streams');
    this.log.warn({ peer: formatIdentity(state.peer), rejected: state.rejected, reason }, 'hbone session closed: too many rejected streams');
    destroySession(state.session, h2c.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  /** How long open streams get after a graceful close (GOAWAY) before the session is destroyed. */
  private closeGraceMs(): number {
    return this.opts.closeGraceMs ?? HboneDefaults.closeGraceMs;
  }

  /** Caps streams accepted per event-loop turn so one session cannot starve the others. */
  private admitStream(state: SessionState): boolean {
    state.tickStreams++;
    if (!state.tickScheduled) {
      state.tickScheduled = true;
      setImmediate(() => {
        state.tickStreams = 0;
        state.tickScheduled = false;
      });
    }
    if (state.tickStreams <= HboneDefaults.maxStreamsPerTick) return true;
    this.stats.rejectStream(0, 'stream_burst');
    return false;
  }

  /** Envoy's premature-reset guard (CVE-2023-44487): mostly-reset sessions get GOAWAY and are closed. */
  private checkPrematureResets(state: SessionState): void {
    if (state.streams < HboneDefaults.prematureResetMinStreams || state.premature * 2 <= state.streams) return;
    if (state.session.destroyed) return;
    this.stats.rejectConnection('premature_resets');
    this.log.warn({ peer: formatIdentity(state.peer), streams: state.streams, premature: state.premature }, 'hbone session closed: premature resets');
    // destroy(err, code) sends GOAWAY(code) before closing; goaway() then destroy() would drop it.
    state.session.destroy(new Error('hbone: premature resets'), h2c.NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

/** Responds unless the peer already reset the stream (a race, not an error worth a crash). */
function respondSafely(stream: ServerStream, status: number, endStream: boolean): boolean {
  if (stream.destroyed || stream.headersSent) return false;
  try {
    stream.respond({ ':status': status }, { endStream });
    return true;
  } catch {
    return false;
  }
}

/**
 * GOAWAY, then destroy if the session has not closed within the grace period: a peer that
 * reset its connection can leave Node's queued GOAWAY unwritten and the session open forever.
 */
function closeThenDestroy(session: ServerSession, graceMs: number): void {
  if (session.destroyed) return;
  if (!session.closed) session.close();
  const timer = setTimeout(() => destroySession(session, h2c.NGHTTP2_CANCEL), graceMs);
  timer.unref();
  (session as EventEmitter).once('close', () => clearTimeout(timer));
}

/**
 * Destroys with an error and a GOAWAY code. A plain destroy() right after a peer left an open
 * tunnel was seen to spin Node 20 below JavaScript; destroy(err, code) does not.
 */
function destroySession(session: ServerSession, code: number): void {
  if (!session.destroyed) session.destroy(new Error('hbone: session closed by server'), code);
}

function headerListBytes(headers: IncomingHttpHeaders | H2Headers): number {
  let total = 0;
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) total += 32 + name.length + v.length;
    else total += 32 + name.length + (typeof value === 'string' ? value.length : String(value ?? '').length);
  }
  return total;
}

function ignoreResult(): void {}
