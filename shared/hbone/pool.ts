// HbonePool: outbound HBONE. Sessions (mTLS + HTTP/2) are pooled by WorkloadKey {source identity,
// expected destination identities, next hop}; each carries at most 100 CONNECT streams (or fewer
// if the peer says so); one connect in flight per key, so a burst of 1000 callers makes one
// session, not 1000. PING every 10 s, dead after 20 s silent; idle sessions released after 5 min;
// a GOAWAY stops new streams on that session but lets in-flight ones finish.
import type { EventEmitter } from 'node:events';
import http2, { constants as h2c, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import tls from 'node:tls';
import { H2Session } from '../h2/h2-session.js';
import { H2Stream, type H2Headers } from '../h2/h2-stream.js';
import type { Logger } from '../log.js';
import { ErrorCode, MeshError } from '../errors.js';
import type { Identity } from '../identity/spiffe.js';
import { hboneAlpn, secureContextFor, serverIdentityChecker } from '../identity/tls.js';
import type { WorkloadCertificate } from '../identity/workload-certificate.js';
import { connectRequestFields } from './connect-headers.js';
import { startKeepalive, type Keepalive } from './keepalive.js';
import { clientH2Settings, HboneDefaults, leanSessionOptions, sessionLimits, type HboneEngine } from './settings.js';

export interface HboneTarget {
  /** The certificate this connection is made with (the source workload's identity). */
  readonly source: WorkloadCertificate;
  /** The server must present one of these identities. */
  readonly expectedIdentities: readonly Identity[];
  /** Where the TCP connection goes, normally `<pod or waypoint IP>:15008`. */
  readonly nextHop: { readonly host: string; readonly port: number };
}

export interface HboneConnectOptions extends HboneTarget {
  /** The CONNECT `:authority`: `podIP:targetPort`, or the original `VIP:port` for a waypoint. */
  readonly authority: string;
  /** Extra request headers (forwarded, baggage, traceparent; see connect-headers.ts). */
  readonly headers?: OutgoingHttpHeaders;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface HbonePoolOptions {
  readonly logger: Logger;
  readonly maxStreamsPerSession?: number;
  readonly connectTimeoutMs?: number;
  readonly pingIntervalMs?: number;
  readonly pingTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  /**
   * The HTTP/2 implementation: `lean` (shared/h2, the default) or `node` (node:http2, whose
   * streams are the Duplexes the waypoint's HTTP clients need: connectDuplex()).
   */
  readonly engine?: HboneEngine;
}

/** A CONNECT stream answered 200: a byte duplex for relay(). */
export type HboneTunnelStream = ClientHttp2Stream | H2Stream;

type SessionPhase = 'ready' | 'draining' | 'closed';

interface PooledSession {
  readonly key: string;
  readonly session: ClientHttp2Session | H2Session;
  phase: SessionPhase;
  active: number;
  idleTimer?: NodeJS.Timeout;
  keepalive?: Keepalive;
}

interface KeyState {
  sessions: PooledSession[];
  connecting?: Promise<PooledSession>;
}

/** Identities here were validated when parsed; the key only needs them spelled out. */
function identityKey(id: Identity): string {
  return `${id.trustDomain}/${id.namespace}/${id.serviceAccount}`;
}

export function workloadKey(t: HboneTarget): string {
  const ids = t.expectedIdentities;
  const dst = ids.length === 1 ? identityKey(ids[0]!) : ids.map(identityKey).sort().join(',');
  return `${identityKey(t.source.identity)}#${t.source.serialHex}|${dst}|${t.nextHop.host}:${t.nextHop.port}`;
}

export class HbonePool {
  /** Servers refused during the handshake, by reason (e.g. identity_mismatch: reliability case 6). */
  readonly serverRejections = new Map<string, number>();
  private readonly keys = new Map<string, KeyState>();
  private readonly log: Logger;
  private readonly maxStreams: number;
  private readonly connectTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly pingTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly engine: HboneEngine;
  private closed = false;

  constructor(opts: HbonePoolOptions) {
    this.log = opts.logger;
    this.maxStreams = opts.maxStreamsPerSession ?? HboneDefaults.poolMaxStreamsPerSession;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? HboneDefaults.connectTimeoutMs;
    this.pingIntervalMs = opts.pingIntervalMs ?? HboneDefaults.pingIntervalMs;
    this.pingTimeoutMs = opts.pingTimeoutMs ?? HboneDefaults.pingTimeoutMs;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? HboneDefaults.poolIdleTimeoutMs;
    this.engine = opts.engine ?? 'lean';
  }

  /** Keys with sessions or a connect in flight (for leak checks). */
  keyCount(): number {
    return this.keys.size;
  }

  /** Live sessions, all keys (for leak checks and the admin page). */
  sessionCount(): number {
    let n = 0;
    for (const k of this.keys.values()) n += k.sessions.filter((s) => s.phase !== 'closed').length;
    return n;
  }

  activeStreams(): number {
    let n = 0;
    for (const k of this.keys.values()) for (const s of k.sessions) n += s.active;
    return n;
  }

  /**
   * The waypoint's connect(): the same, as a Node Http2Stream (a Duplex its HTTP clients run
   * on), so only with the `node` engine.
   */
  async connectDuplex(opts: HboneConnectOptions): Promise<ClientHttp2Stream> {
    if (this.engine !== 'node') throw new MeshError(ErrorCode.HboneConnect, 'HbonePool.connectDuplex() needs the node engine');
    return (await this.connect(opts)) as ClientHttp2Stream;
  }

  /**
   * Opens a CONNECT stream and resolves once the server answered 200: the stream is then a
   * plain byte duplex. Any other status rejects with MeshError(HBONE_STATUS) carrying `status`.
   */
  async connect(opts: HboneConnectOptions): Promise<HboneTunnelStream> {
    const timeoutMs = opts.timeoutMs ?? this.connectTimeoutMs;
    // The common case, a ready session with a free slot and no caller signal, needs no
    // AbortController: the CONNECT's own timer is the deadline (a controller and its listeners
    // per connection were ~2.5 % of the forwarder's CPU at high connection rates).
    if (opts.signal === undefined && !this.closed) {
      const ready = this.reserveReady(workloadKey(opts));
      if (ready) return this.openStream(ready, opts, undefined, timeoutMs);
    }
    // One plain timer per connect: AbortSignal.timeout + AbortSignal.any cost ~2 % CPU at high rates.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(connectTimeout(opts.authority)), timeoutMs);
    const onCallerAbort = (): void => deadline.abort(opts.signal?.reason);
    if (opts.signal?.aborted) onCallerAbort();
    else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = deadline.signal;
    try {
      const pooled = await this.acquire(opts, signal);
      if (signal.aborted) {
        this.release(pooled);
        throw new MeshError(ErrorCode.HboneTimeout, `hbone CONNECT ${opts.authority} aborted or timed out`, { cause: signal.reason });
      }
      return await this.openStream(pooled, opts, signal);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** Closes every session: GOAWAY, then destroy after `graceMs`. */
  async close(graceMs = 0): Promise<void> {
    this.closed = true;
    const all = [...this.keys.values()].flatMap((k) => k.sessions);
    for (const s of all) if (!s.session.closed) s.session.close();
    if (graceMs > 0 && all.some((s) => s.active > 0)) await new Promise((r) => setTimeout(r, graceMs));
    for (const s of all) this.retire(s, true);
    this.keys.clear();
  }

  /** A ready session of `key` with a free slot, reserved (active counted), or undefined. */
  private reserveReady(key: string): PooledSession | undefined {
    const sessions = this.keys.get(key)?.sessions;
    if (!sessions) return undefined;
    for (const s of sessions) {
      if (s.phase === 'ready' && s.active < this.capacity(s)) {
        // Reserve the slot now: between here and the stream's creation other callers may run.
        s.active++;
        this.disarmIdle(s);
        return s;
      }
    }
    return undefined;
  }

  /** A ready session with a free stream slot, reserved for the caller (active already counted). */
  private async acquire(target: HboneTarget, signal: AbortSignal): Promise<PooledSession> {
    const key = workloadKey(target);
    for (;;) {
      if (this.closed) throw new MeshError(ErrorCode.HboneClosed, 'hbone pool is closed');
      signal.throwIfAborted();
      let state = this.keys.get(key);
      if (!state) {
        state = { sessions: [] };
        this.keys.set(key, state);
      }
      const usable = this.reserveReady(key);
      if (usable) return usable;
      if (!state.connecting) {
        const connecting = this.createSession(key, target);
        state.connecting = connecting;
        const clear = (): void => {
          if (state.connecting === connecting) state.connecting = undefined;
          // A failed connect must not leave an empty entry behind for its key.
          if (state.sessions.length === 0 && !state.connecting && this.keys.get(key) === state) this.keys.delete(key);
        };
        connecting.then(clear, clear);
      }
      // Wait for the one connect in flight; then look again (it may already be full).
      await raceAbort(state.connecting, signal);
    }
  }

  private capacity(s: PooledSession): number {
    const remote = s.session.remoteSettings?.maxConcurrentStreams;
    return Math.min(this.maxStreams, remote === undefined ? this.maxStreams : remote);
  }

  private async createSession(key: string, target: HboneTarget): Promise<PooledSession> {
    const socket = tls.connect({
      host: target.nextHop.host,
      port: target.nextHop.port,
      secureContext: secureContextFor(target.source),
      ALPNProtocols: [hboneAlpn],
      rejectUnauthorized: true,
      // No SNI: the next hop is an IP and the server picks its certificate by destination.
      servername: '',
      checkServerIdentity: serverIdentityChecker(target.expectedIdentities, (check) => {
        this.serverRejections.set(check.reason, (this.serverRejections.get(check.reason) ?? 0) + 1);
        this.log.warn({ nextHop: target.nextHop, reason: check.reason, detail: check.detail }, 'hbone server rejected');
      }),
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
    });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new MeshError(ErrorCode.HboneTimeout, `hbone connect to ${target.nextHop.host}:${target.nextHop.port} timed out (maybe a NetworkPolicy blocks port 15008)`));
      }, this.connectTimeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        if (socket.alpnProtocol !== hboneAlpn) {
          socket.destroy();
          reject(new MeshError(ErrorCode.HboneConnect, `hbone peer ${target.nextHop.host} did not negotiate h2`));
        } else resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new MeshError(ErrorCode.HboneConnect, `hbone connect to ${target.nextHop.host}:${target.nextHop.port} failed: ${err.message}`, { cause: err }));
      });
    });
    // In TLS 1.3 the server judges our certificate after our handshake completes: its alert
    // arrives as a socket error during session setup and is the reason worth reporting.
    let socketError: Error | undefined;
    socket.on('error', (err) => {
      socketError = err;
      this.log.debug({ err: err.message }, 'hbone client socket error');
    });
    socket.setKeepAlive(true, HboneDefaults.tcpKeepAliveMs);
    const session = this.engine === 'lean'
      ? new H2Session(socket, leanSessionOptions('client'))
      : http2.connect(`https://${target.nextHop.host}:${target.nextHop.port}`, {
        createConnection: () => socket,
        settings: clientH2Settings(),
        ...sessionLimits,
        peerMaxConcurrentStreams: this.maxStreams,
      });
    const pooled: PooledSession = {
      key,
      session,
      phase: 'ready',
      active: 0,
    };
    pooled.keepalive = startKeepalive(session, {
      intervalMs: this.pingIntervalMs,
      timeoutMs: this.pingTimeoutMs,
      onDead: () => {
        this.log.info({ key }, 'hbone session dead: no ping ack');
        this.retire(pooled, true);
      },
    });
    session.on('error', (err) => this.log.debug({ err: err.message, key }, 'hbone session error'));
    session.on('goaway', () => {
      if (pooled.phase === 'ready') pooled.phase = 'draining';
      if (pooled.active === 0) this.retire(pooled, false);
    });
    session.on('close', () => this.retire(pooled, true));
    session.on('remoteSettings', (settings) => {
      if (settings.maxConcurrentStreams !== 0 || pooled.phase !== 'ready') return;
      pooled.phase = 'draining';
      // Kept until the idle timer, each refusing session was one more open connection.
      if (pooled.active === 0) this.retire(pooled, false);
    });
    if (!(session instanceof H2Session)) session.once('connect', () => session.setLocalWindowSize(HboneDefaults.connectionWindowBytes));
    // Wait for the server's SETTINGS so the stream limit it advertises is known before use.
    await new Promise<void>((resolve, reject) => {
      const onSettings = (): void => { cleanup(); resolve(); };
      const onClose = (): void => {
        cleanup();
        const why = socketError ? `: ${socketError.message.split('\n')[0]}` : '';
        reject(new MeshError(ErrorCode.HboneConnect, `hbone session closed by ${target.nextHop.host}:${target.nextHop.port} during setup${why}`, { cause: socketError }));
      };
      const timer = setTimeout(() => { cleanup(); session.destroy(); reject(new MeshError(ErrorCode.HboneTimeout, 'hbone peer sent no SETTINGS')); }, this.connectTimeoutMs);
      const cleanup = (): void => { clearTimeout(timer); session.off('remoteSettings', onSettings); session.off('close', onClose); };
      session.once('remoteSettings', onSettings);
      session.once('close', onClose);
    });
    if (this.closed) {
      this.retire(pooled, true);
      throw new MeshError(ErrorCode.HboneClosed, 'hbone pool is closed');
    }
    // A peer that refuses streams from the start (GOAWAY, or SETTINGS_MAX_CONCURRENT_STREAMS 0,
    // RFC 9113 §5.1.2) fails its waiters: acquire() would otherwise open session after session
    // until their deadline (~100 TLS handshakes per second seen on loopback).
    if (pooled.phase !== 'ready') {
      this.retire(pooled, false);
      throw new MeshError(ErrorCode.HboneConnect, `hbone peer ${target.nextHop.host}:${target.nextHop.port} accepts no new streams`);
    }
    this.keys.get(key)?.sessions.push(pooled) ?? this.keys.set(key, { sessions: [pooled] });
    this.armIdle(pooled);
    return pooled;
  }

  /**
   * Opens the stream on a session whose slot was already reserved. The CONNECT is cancelled when
   * `signal` aborts or, without a signal, after `timeoutMs`.
   */
  private openStream(pooled: PooledSession, opts: HboneConnectOptions, signal: AbortSignal | undefined, timeoutMs = this.connectTimeoutMs): Promise<HboneTunnelStream> {
    let stream: HboneTunnelStream;
    try {
      const session = pooled.session;
      stream = session instanceof H2Session
        ? session.request(connectRequestFields(opts.authority, opts.headers))
        : session.request({ ...opts.headers, ':method': 'CONNECT', ':authority': opts.authority }, { endStream: false });
    } catch (err) {
      // A session that cannot open a stream (closing, or its stream ids ran out after 2^30
      // CONNECTs) would be picked again by every later connect: it leaves the pool, its open
      // streams finish.
      this.release(pooled);
      this.retire(pooled, false);
      return Promise.reject(new MeshError(ErrorCode.HboneConnect, `cannot open hbone stream: ${(err as Error).message}`, { cause: err }));
    }
    this.releaseOnClose(stream, pooled);
    const events = stream as EventEmitter;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        cleanup();
        stream.close(h2c.NGHTTP2_CANCEL);
        const cause: unknown = signal ? signal.reason : connectTimeout(opts.authority);
        reject(new MeshError(ErrorCode.HboneTimeout, `hbone CONNECT ${opts.authority} aborted or timed out`, { cause }));
      };
      const onResponse = (headers: http2.IncomingHttpHeaders | H2Headers): void => {
        cleanup();
        const status = Number(headers[':status']);
        if (status === 200) return resolve(stream);
        stream.close(h2c.NGHTTP2_CANCEL);
        const err = new MeshError(ErrorCode.HboneStatus, `hbone CONNECT ${opts.authority} answered ${status}`) as MeshError & { status?: number };
        err.status = status;
        reject(err);
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(new MeshError(ErrorCode.HboneConnect, `hbone CONNECT ${opts.authority} failed: ${err.message}`, { cause: err }));
      };
      const onClose = (): void => onError(new Error(`stream closed (code ${stream.rstCode})`));
      const cleanup = (): void => {
        if (signal) signal.removeEventListener('abort', onAbort);
        else clearTimeout(timer);
        if (stream instanceof H2Stream) return stream.cancelResponseWait();
        events.off('response', onResponse);
        events.off('error', onError);
        events.off('close', onClose);
        // The caller attaches its own handlers next; until then errors must not crash.
        events.on('error', noop);
      };
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      else timer = setTimeout(onAbort, timeoutMs);
      // A lean stream takes the two callbacks directly: listeners added and removed again would
      // turn its listener table into a dictionary (~0.3 KB more per open tunnel).
      if (stream instanceof H2Stream) return stream.awaitResponse(onResponse, onError);
      events.once('response', onResponse);
      events.once('error', onError);
      events.once('close', onClose);
    });
  }

  /**
   * Its own method so the listener's closure context holds only the pool and the session: made
   * inline in openStream() it kept that call's whole context (the CONNECT options with their
   * headers, certificate and identities) for the stream's life.
   */
  private releaseOnClose(stream: HboneTunnelStream, pooled: PooledSession): void {
    // 'close' comes once: on() spares once()'s wrapper per stream.
    (stream as EventEmitter).on('close', () => this.release(pooled));
  }

  private release(pooled: PooledSession): void {
    pooled.active--;
    if (pooled.active > 0) return;
    if (pooled.phase === 'draining') this.retire(pooled, false);
    else this.armIdle(pooled);
  }

  private armIdle(pooled: PooledSession): void {
    this.disarmIdle(pooled);
    pooled.idleTimer = setTimeout(() => {
      if (pooled.active === 0) this.retire(pooled, false);
    }, this.idleTimeoutMs);
    pooled.idleTimer.unref();
  }

  private disarmIdle(pooled: PooledSession): void {
    if (pooled.idleTimer) clearTimeout(pooled.idleTimer);
    pooled.idleTimer = undefined;
  }

  /** Takes a session out of the pool: graceful (GOAWAY, streams finish) or at once. */
  private retire(pooled: PooledSession, destroy: boolean): void {
    if (pooled.phase !== 'closed') {
      pooled.phase = 'closed';
      pooled.keepalive?.stop();
      this.disarmIdle(pooled);
      const state = this.keys.get(pooled.key);
      if (state) {
        state.sessions = state.sessions.filter((s) => s !== pooled);
        if (state.sessions.length === 0 && !state.connecting) this.keys.delete(pooled.key);
      }
    }
    if (destroy) pooled.session.destroy();
    else if (!pooled.session.closed) pooled.session.close();
  }
}

function noop(): void {}

function connectTimeout(authority: string): MeshError {
  return new MeshError(ErrorCode.HboneTimeout, `hbone CONNECT ${authority} timed out`);
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(new MeshError(ErrorCode.HboneTimeout, 'hbone connect aborted or timed out', { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}
