// Test support: a lean H2Session (shared/h2) and Node's own node:http2 (nghttp2) talking over
// mutual TLS on 127.0.0.1, in either role, with CONNECT streams opened in matched pairs, and byte
// pumps that respect each side's backpressure and hash what went through.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { H2Session, type H2SessionOptions } from '../../shared/h2/h2-session.js';
import type { H2Headers, H2Stream } from '../../shared/h2/h2-stream.js';
import type { TestMesh } from './mesh.js';
import { within } from './within.js';

export type NodeSession = http2.ClientHttp2Session | http2.ServerHttp2Session;

/** The production shape (4 MiB stream / 16 MiB connection windows, 1 MiB frames), overridable. */
export function leanOptions(role: 'client' | 'server', over: Partial<Omit<H2SessionOptions, 'settings'>> & { settings?: Partial<H2SessionOptions['settings']> } = {}): H2SessionOptions {
  return {
    role,
    connectionWindowBytes: 16 * 1024 * 1024,
    maxHeldBytes: 64 * 1024 * 1024,
    maxOutstandingPings: 10,
    maxSettingsEntries: 32,
    ...over,
    settings: {
      initialWindowSize: 4 * 1024 * 1024,
      maxFrameSize: 1024 * 1024,
      maxHeaderListSize: 64 * 1024,
      ...(role === 'server' ? { maxConcurrentStreams: 200 } : {}),
      ...over.settings,
    },
  };
}

export interface StreamPair {
  readonly lean: H2Stream;
  readonly node: http2.Http2Stream;
  /** What the server side received as request headers. */
  readonly requestHeaders: H2Headers | http2.IncomingHttpHeaders;
}

export interface H2Pair {
  readonly leanRole: 'client' | 'server';
  readonly lean: H2Session;
  readonly node: NodeSession;
  /** The TCP socket under the lean side's TLS socket. */
  readonly leanRaw: net.Socket;
  /** Opens a CONNECT stream from whichever side is the client; the server answers 200 at once. */
  open(extraHeaders?: Record<string, string>): Promise<StreamPair>;
  close(): Promise<void>;
}

export interface PairOptions {
  readonly lean?: Parameters<typeof leanOptions>[1];
  readonly nodeSettings?: http2.Settings;
  /** Node's session-level options other than settings (e.g. maxSessionMemory). */
  readonly nodeOptions?: Partial<http2.SecureServerOptions & http2.SecureClientSessionOptions>;
  /** When false, the server side does not answer new streams (the test does). */
  readonly autoRespond?: boolean;
}

const connectHeaders = { ':method': 'CONNECT', ':authority': '10.0.0.9:8080' } as const;

/** A lean client against http2.createSecureServer. */
export async function leanClientPair(mesh: TestMesh, opts: PairOptions = {}): Promise<H2Pair> {
  const server = http2.createSecureServer({
    key: mesh.serverCert.keyPem, cert: mesh.serverCert.chainPem, ca: mesh.ca.rootsPem, requestCert: true,
    minVersion: 'TLSv1.3', settings: opts.nodeSettings, ...opts.nodeOptions,
  });
  const nodeSessions: http2.ServerHttp2Session[] = [];
  const pending = new Map<string, (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void>();
  server.on('session', (s) => {
    nodeSessions.push(s);
    s.on('error', () => undefined);
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (opts.autoRespond !== false) stream.respond({ ':status': 200 });
    pending.get(String(headers['x-pair']))?.(stream, headers);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const raw = net.connect(port, '127.0.0.1');
  raw.on('error', () => undefined);
  const socket = tls.connect({
    socket: raw, key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem,
    ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined,
  });
  socket.on('error', () => undefined);
  await within(once(socket, 'secureConnect'), 5000, 'the TLS handshake');
  const lean = new H2Session(socket, leanOptions('client', opts.lean));
  lean.on('error', () => undefined);
  await within(once(lean, 'remoteSettings'), 5000, 'the server SETTINGS');
  while (nodeSessions.length === 0) await new Promise((r) => setTimeout(r, 5));
  let counter = 0;
  return {
    leanRole: 'client',
    lean,
    node: nodeSessions[0]!,
    leanRaw: raw,
    async open(extra = {}) {
      const key = String(++counter);
      const arrived = new Promise<{ stream: http2.ServerHttp2Stream; headers: http2.IncomingHttpHeaders }>((resolve) => pending.set(key, (stream, headers) => resolve({ stream, headers })));
      const stream = lean.request({ ...connectHeaders, 'x-pair': key, ...extra });
      const [{ stream: node, headers }] = await within(Promise.all([arrived, opts.autoRespond === false ? undefined : once(stream, 'response')]), 5000, 'the stream to open');
      pending.delete(key);
      return { lean: stream, node, requestHeaders: headers };
    },
    async close() {
      lean.destroy();
      socket.destroy();
      for (const s of nodeSessions) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

export interface LeanServer {
  readonly port: number;
  readonly sessions: Array<{ session: H2Session; raw: net.Socket }>;
  close(): Promise<void>;
}

/** A tls.Server-alike on 127.0.0.1 handing each mutual-TLS socket to a lean server H2Session. */
export async function startLeanServer(mesh: TestMesh, lean: PairOptions['lean'], onStream: (stream: H2Stream, headers: H2Headers) => void): Promise<LeanServer> {
  const sessions: Array<{ session: H2Session; raw: net.Socket }> = [];
  const rawSockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    rawSockets.add(raw);
    raw.on('error', () => undefined);
    raw.on('close', () => rawSockets.delete(raw));
    const socket = new tls.TLSSocket(raw, {
      isServer: true, key: mesh.serverCert.keyPem, cert: mesh.serverCert.chainPem, ca: mesh.ca.rootsPem,
      requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3',
    });
    socket.on('error', () => undefined);
    socket.once('secure', () => {
      const session = new H2Session(socket as TLSSocket, leanOptions('server', lean));
      session.on('error', () => undefined);
      session.on('stream', onStream);
      sessions.push({ session, raw });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    sessions,
    async close() {
      for (const { session } of sessions) session.destroy();
      for (const raw of rawSockets) raw.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** http2.connect against a lean server. */
export async function leanServerPair(mesh: TestMesh, opts: PairOptions = {}): Promise<H2Pair> {
  const pending = new Map<string, (s: H2Stream, h: H2Headers) => void>();
  const server = await startLeanServer(mesh, opts.lean, (stream, headers) => {
    if (opts.autoRespond !== false) stream.respond({ ':status': 200 });
    pending.get(String(headers['x-pair']))?.(stream, headers);
  });
  const leanSessions = server.sessions;
  const port = server.port;
  const node = http2.connect(`https://127.0.0.1:${port}`, {
    key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem,
    minVersion: 'TLSv1.3', checkServerIdentity: () => undefined, settings: opts.nodeSettings, ...opts.nodeOptions,
  });
  node.on('error', () => undefined);
  await within(once(node, 'remoteSettings'), 5000, 'the lean server SETTINGS');
  while (leanSessions.length === 0) await new Promise((r) => setTimeout(r, 5));
  let counter = 0;
  return {
    leanRole: 'server',
    lean: leanSessions[0]!.session,
    node,
    leanRaw: leanSessions[0]!.raw,
    async open(extra = {}) {
      const key = String(++counter);
      const arrived = new Promise<{ stream: H2Stream; headers: H2Headers }>((resolve) => pending.set(key, (stream, headers) => resolve({ stream, headers })));
      const stream = node.request({ ...connectHeaders, 'x-pair': key, ...extra }, { endStream: false });
      stream.on('error', () => undefined);
      const [{ stream: lean, headers }] = await within(Promise.all([arrived, opts.autoRespond === false ? undefined : once(stream, 'response')]), 5000, 'the stream to open');
      pending.delete(key);
      return { lean, node: stream, requestHeaders: headers };
    },
    async close() {
      node.destroy();
      await server.close();
    },
  };
}

/** Either end of a stream as a byte sink with backpressure. */
export interface Writer {
  write(chunk: Buffer): boolean;
  end(): unknown;
  once(event: 'drain' | 'close', cb: () => void): unknown;
  off(event: 'drain' | 'close', cb: () => void): unknown;
  readonly destroyed: boolean;
}

/** Writes `total` random bytes in `chunkBytes` pieces, waiting for 'drain' when asked; then ends. Resolves the sha256. */
export async function pump(w: Writer, total: number, chunkBytes = 64 * 1024, end = true): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; ) {
    const chunk = randomBytes(Math.min(chunkBytes, total - sent));
    hash.update(chunk);
    sent += chunk.length;
    if (!w.write(chunk) && !w.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => { w.off('drain', done); w.off('close', done); resolve(); };
        w.once('drain', done);
        w.once('close', done);
      });
    }
    if (w.destroyed) throw new Error(`the stream closed after ${sent} bytes`);
  }
  if (end) w.end();
  return hash.digest('hex');
}

export interface Received {
  readonly bytes: number;
  readonly sha256: string;
}

/** Reads a stream to its end; rejects if it closes without 'end'. */
export function drain(r: { on(event: string, cb: (...args: any[]) => void): unknown; once(event: string, cb: (...args: any[]) => void): unknown }): Promise<Received> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    let ended = false;
    r.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    r.once('end', () => {
      ended = true;
      resolve({ bytes, sha256: hash.digest('hex') });
    });
    r.once('close', () => {
      if (!ended) setImmediate(() => (ended ? undefined : reject(new Error(`closed without end after ${bytes} bytes`))));
    });
  });
}

/** Resolves once `cond` holds, polling; false after `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** Waits until `value()` has not changed for `quietMs` (flow settled), at most `timeoutMs`. */
export async function settled(value: () => number, quietMs = 150, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    const v = value();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) break;
  }
  return last;
}
