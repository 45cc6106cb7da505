// Interop: the lean HTTP/2 engine (shared/h2/H2Session) against python3-h2 (h2_peer.py), a peer
// that shares no code with it or with nghttp2: python as the SERVER for a lean client (padded DATA,
// Huffman and dynamic-table response headers, tiny windows, many small DATA frames, trailers) and
// python as the CLIENT of a lean server (padded HEADERS and DATA, the PRIORITY flag).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { H2Session } from '../../shared/h2/h2-session.js';
import type { H2Headers, H2Stream } from '../../shared/h2/h2-stream.js';
import { runProcess, startProcess, type ExternalProcess } from '../support/external-process.js';
import { drain, leanOptions, pump, until } from '../support/h2-pair.js';
import { createTestMesh, type TestMesh } from '../support/mesh.js';
import { pythonRuns, requiredTools } from '../support/required-tools.js';
import { within } from '../support/within.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('../../../test/interop/h2_peer.py', import.meta.url));
const skip = requiredTools([
  { what: `the h2 module of ${python}`, debianPackage: 'python3-h2', present: () => pythonRuns(python, 'import h2.connection, hyperframe.frame, ssl; assert ssl.HAS_TLSv1_3') },
]);
const MiB = 1024 * 1024;

/** The bytes h2_peer.py sends: i % 251. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let mesh: TestMesh;
let dir: string;
let files: { cert: string; key: string; ca: string; clientCert: string; clientKey: string };

before(async () => {
  if (skip) return;
  mesh = await createTestMesh();
  dir = await mkdtemp(join(tmpdir(), 'ambit-h2-python-'));
  files = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key'), ca: join(dir, 'ca.pem'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') };
  await Promise.all([
    writeFile(files.cert, mesh.serverCert.chainPem), writeFile(files.key, mesh.serverCert.keyPem), writeFile(files.ca, mesh.ca.rootsPem),
    writeFile(files.clientCert, mesh.clientCert.chainPem), writeFile(files.clientKey, mesh.clientCert.keyPem),
  ]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('python3-h2 as the server of a lean client', { skip }, () => {
  let server: ExternalProcess;
  let port = 0;
  const sessions: H2Session[] = [];
  before(async () => {
    server = startProcess(python, [script, 'server', '--cert', files.cert, '--key', files.key, '--ca', files.ca, '--window', '16384']);
    assert.ok(await until(() => /port (\d+)/.test(server.output()) || server.exitReason() !== undefined, 10_000), 'the python server started');
    const m = /port (\d+)/.exec(server.output());
    assert.ok(m, `python server: ${server.exitReason()} ${server.output()}`);
    port = Number(m[1]);
  });
  // h2_peer.py serves one connection at a time: each test closes its session.
  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      s.destroy();
      if (!s.socket.destroyed) await once(s.socket, 'close');
    }
  });
  after(async () => {
    await server?.stop();
  });

  async function session(over: Parameters<typeof leanOptions>[1] = {}): Promise<H2Session> {
    const socket = tls.connect({ host: '127.0.0.1', port, key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    socket.on('error', () => undefined);
    await within(once(socket, 'secureConnect'), 5000, 'TLS with python');
    const s = new H2Session(socket, leanOptions('client', over));
    s.on('error', () => undefined);
    sessions.push(s);
    await within(once(s, 'remoteSettings'), 5000, "python's SETTINGS");
    return s;
  }

  async function request(s: H2Session, headers: Record<string, string>): Promise<{ stream: H2Stream; response: H2Headers }> {
    const stream = s.request({ ':method': 'CONNECT', ':authority': '10.0.0.1:80', ...headers });
    stream.on('error', () => undefined);
    const [response] = (await within(once(stream, 'response'), 5000, 'the response')) as [H2Headers];
    return { stream, response };
  }

  it('reads padded DATA frames without the padding, across stream windows it must reopen', async () => {
    const s = await session({ settings: { initialWindowSize: 65_535 } });
    const { stream } = await request(s, { 'x-scenario': 'padded', 'x-size': String(3 * MiB) });
    const got = await within(drain(stream), 20_000, 'the padded body');
    assert.deepEqual(got, { bytes: 3 * MiB, sha256: sha256(pattern(3 * MiB)) });
    assert.deepEqual(s['heldBytes'], 0);
  });

  it('decodes Huffman-coded and dynamic-table-indexed response headers, the same on every stream', async () => {
    const s = await session();
    for (let i = 0; i < 3; i++) {
      const { stream, response } = await request(s, { 'x-scenario': 'padded', 'x-size': '10' });
      assert.deepEqual({ ...response }, { ':status': '200', 'x-custom': 'value-abcabcabcabcabc', server: 'python-h2', 'cache-control': 'private, max-age=0' });
      await within(drain(stream), 5000, 'the body');
    }
  });

  it('sends several MiB into 16 KiB python windows, byte-exact', async () => {
    const s = await session();
    const { stream } = await request(s, { 'x-scenario': 'sink' });
    const reply: Buffer[] = [];
    stream.on('data', (c: Buffer) => reply.push(c));
    const ended = once(stream, 'end');
    const sent = await within(pump(stream, 5 * MiB, 100_000), 30_000, 'the upload');
    await within(ended, 10_000, "python's answer");
    assert.equal(Buffer.concat(reply).toString(), `${5 * MiB} ${sent}`);
  });

  it('takes a body in 100,000 DATA frames of 10 bytes', async () => {
    const s = await session();
    const { stream } = await request(s, { 'x-scenario': 'small-frames', 'x-size': '1000000', 'x-frame': '10' });
    const got = await within(drain(stream), 30_000, 'the small frames');
    assert.deepEqual(got, { bytes: 1_000_000, sha256: sha256(pattern(1_000_000)) });
  });

  it('ends a stream on trailers after its body', async () => {
    const s = await session();
    const { stream } = await request(s, { 'x-scenario': 'trailers' });
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await within(once(stream, 'end'), 5000, 'end after trailers');
    assert.equal(Buffer.concat(chunks).toString(), 'body before trailers');
    stream.end();
    await within(once(stream, 'close'), 5000, 'close');
    assert.equal(stream.rstCode, 0);
    const { response } = await request(s, { 'x-scenario': 'padded', 'x-size': '1' });
    assert.equal(response[':status'], '200', 'the session still works after trailers');
  });
});

describe('python3-h2 as the client of a lean server', { skip }, () => {
  async function echoRun(window: number, connectionWindowBytes: number): Promise<void> {
    const sessions: H2Session[] = [];
    const kinds: string[] = [];
    const server = net.createServer((raw) => {
      raw.on('error', () => undefined);
      const socket = new tls.TLSSocket(raw, { isServer: true, key: mesh.serverCert.keyPem, cert: mesh.serverCert.chainPem, ca: mesh.ca.rootsPem, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'], minVersion: 'TLSv1.3' });
      socket.on('error', () => undefined);
      socket.once('secure', () => {
        const session = new H2Session(socket, leanOptions('server', { connectionWindowBytes, settings: { initialWindowSize: window } }));
        session.on('error', () => undefined);
        sessions.push(session);
        session.on('stream', (stream: H2Stream, headers: H2Headers) => {
          kinds.push(`${headers[':authority']} ${headers['x-kind']}`);
          stream.respond({ ':status': 200 });
          stream.on('data', (c: Buffer) => stream.write(c));
          stream.on('end', () => stream.end());
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const size = 2 * MiB;
      const r = await runProcess(python, [script, 'client', '--port', String((server.address() as AddressInfo).port), '--cert', files.clientCert, '--key', files.clientKey, '--ca', files.ca, '--size', String(size)], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout.toString()) as Record<string, { status: number; bytes: number; ended: boolean; reset: number | null; intact: boolean }>;
      for (const id of ['1', '3', '5']) assert.deepEqual({ ...result[id], kind: undefined }, { kind: undefined, status: 200, bytes: size, ended: true, reset: null, intact: true }, `stream ${id}: ${JSON.stringify(result[id])}`);
      assert.deepEqual(kinds.sort(), ['10.0.0.1:1 priority', '10.0.0.1:3 padded', '10.0.0.1:5 padded+priority']);
    } finally {
      for (const s of sessions) s.destroy();
      await new Promise((r) => server.close(r));
    }
  }

  it('echoes on streams opened with padded HEADERS, the PRIORITY flag or both, with padded DATA', () => echoRun(65_535, 16 * MiB));

  it('echoes 2 MiB per stream through 16 KiB lean stream and connection windows', () => echoRun(16_384, 16_384));

});


