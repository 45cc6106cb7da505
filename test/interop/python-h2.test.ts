// Interop: Ambit's HboneServer against an HBONE client that shares no code with it
// (hbone_client.py: python3-h2 + Python's ssl/OpenSSL). Covers the tunnel, every way a client is
// refused before its first stream, TLS resumption being off, and 400s that leave the session usable.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { CertificateAuthority } from '../../shared/identity/ca.js';
import { formatIdentity } from '../../shared/identity/spiffe.js';
import type { WorkloadCertificate } from '../../shared/identity/workload-certificate.js';
import { createTestMesh, eventually, identity, startEcho, startHboneServer, trustDomain, type TestMesh } from '../support/mesh.js';
import { runProcess, type ProcessResult } from '../support/external-process.js';
import { executable, findExecutable, pythonRuns, requiredTools } from '../support/required-tools.js';

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('../../../test/interop/hbone_client.py', import.meta.url));
const skip = requiredTools([
  { what: `the h2 module of ${python}`, debianPackage: 'python3-h2', present: () => pythonRuns(python, 'import h2.connection, ssl; assert ssl.HAS_TLSv1_3') },
  executable('openssl', 'openssl'),
]);

const ExitCode = { ok: 0, tls: 2, sanMismatch: 3 } as const;
const dayMs = 24 * 3600_000;

type Echo = Awaited<ReturnType<typeof startEcho>>;
type Server = Awaited<ReturnType<typeof startHboneServer>>;

function statuses(r: ProcessResult): number[] {
  return [...r.stderr.matchAll(/stream=\d+ status=(\d+)/g)].map((m) => Number(m[1]));
}

function describeRun(r: ProcessResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}${r.timedOut ? ' after timing out' : ''}, stderr:\n${r.stderr}`;
}

function rejectionsTotal(server: Server): number {
  let n = 0;
  for (const v of server.hbone.stats.connectionRejections.values()) n += v;
  return n;
}

async function run(openssl: string, args: readonly string[]): Promise<void> {
  const r = await runProcess(openssl, args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

describe('python-h2 HBONE client against the Ambit HboneServer', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let mesh: TestMesh;
  let echo: Echo;
  let server: Server;
  const files = {} as Record<'root' | 'client' | 'clientKey' | 'foreign' | 'foreignKey' | 'otherTd' | 'otherTdKey' | 'expired' | 'expiredKey', string>;

  async function writeLeaf(name: 'client' | 'foreign' | 'expired', cert: WorkloadCertificate): Promise<void> {
    files[name] = join(dir, `${name}.pem`);
    files[`${name}Key`] = join(dir, `${name}-key.pem`);
    await writeFile(files[name], cert.chainPem);
    await writeFile(files[`${name}Key`], cert.keyPem, { mode: 0o600 });
  }

  /** A leaf for spiffe://other.local/... signed by our CA's key with the openssl CLI (our CA refuses other trust domains). */
  async function writeOtherTrustDomainLeaf(caDir: string): Promise<void> {
    const openssl = findExecutable('openssl')!;
    files.otherTdKey = join(dir, 'other-td-key.pem');
    files.otherTd = join(dir, 'other-td.pem');
    const csr = join(dir, 'other-td.csr');
    const ext = join(dir, 'other-td.ext');
    await writeFile(ext, 'subjectAltName=critical,URI:spiffe://other.local/ns/default/sa/client\nextendedKeyUsage=serverAuth,clientAuth\n');
    await run(openssl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', files.otherTdKey]);
    await run(openssl, ['req', '-new', '-key', files.otherTdKey, '-subj', '/O=other.local', '-out', csr]);
    await run(openssl, [
      'x509', '-req', '-in', csr, '-CA', join(caDir, 'ca-cert.pem'), '-CAkey', join(caDir, 'ca-key.pem'),
      '-set_serial', `0x${randomBytes(15).toString('hex')}`, '-days', '1', '-extfile', ext, '-out', files.otherTd,
    ]);
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ambit-python-h2-'));
    mesh = await createTestMesh();
    [echo, server] = await Promise.all([startEcho(), startHboneServer(mesh.serverCert)]);
    files.root = join(dir, 'root.pem');
    await writeFile(files.root, mesh.ca.rootsPem);
    await writeLeaf('client', mesh.clientCert);

    const foreignCa = await CertificateAuthority.create({ trustDomain });
    await writeLeaf('foreign', await foreignCa.issue(mesh.clientId));

    const caDir = join(dir, 'ca');
    await mesh.ca.saveToDir(caDir);
    await writeOtherTrustDomainLeaf(caDir);

    // Our own CA, two days ago: a one-hour leaf from then expired long before now.
    const pastCa = await CertificateAuthority.loadFromDir(caDir, trustDomain, new ManualClock(Date.now() - 2 * dayMs));
    const expired = await pastCa.issue(mesh.clientId, { ttlMs: 3600_000 });
    assert.ok(expired.notAfterMs < Date.now() - dayMs, 'the expired leaf must really be expired');
    await writeLeaf('expired', expired);
  });

  after(async () => {
    await Promise.all([server?.close(), echo?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    // Whatever the outcome, the python process is gone: nothing may stay open on our side.
    const clean = await eventually(() => server.hbone.connectionCount() === 0 && server.connections() === 0 && echo.connections() === 0);
    assert.ok(clean, `leaked: hbone ${server.hbone.connectionCount()}, listener ${server.connections()}, echo ${echo.connections()}`);
  });

  function client(args: readonly string[], input?: Buffer, port = server.port): Promise<ProcessResult> {
    return runProcess(python, [script, '--host', '127.0.0.1', '--port', String(port), '--ca', files.root, '--timeout', '15', ...args], {
      ...(input ? { input } : {}),
      timeoutMs: 20_000,
    });
  }

  const withClientCert = (): string[] => ['--cert', files.client, '--key', files.clientKey];

  it('tunnels bytes from the python client to the echo backend and back unchanged', async () => {
    const payload = randomBytes(200 * 1024);
    const accepted = server.hbone.stats.streamsAccepted;
    const r = await client([...withClientCert(), '--authority', `127.0.0.1:${echo.port}`, '--expect-san', formatIdentity(mesh.serverId)], payload);
    assert.equal(r.code, ExitCode.ok, describeRun(r));
    assert.deepEqual(statuses(r), [200]);
    assert.equal(r.stdout.length, payload.length);
    assert.ok(r.stdout.equals(payload), 'the bytes that came back differ from the bytes sent');
    assert.equal(server.hbone.stats.streamsAccepted, accepted + 1);
  });

  describe('refusing a client before its first stream', () => {
    /** A fresh upstream per case, which refused clients ask for: it must never see a byte. */
    let upstream: Echo;
    beforeEach(async () => {
      upstream = await startEcho();
    });
    afterEach(async () => {
      await upstream.close();
    });

    const cases = [
      { name: 'refuses a client certificate issued by a foreign CA', cert: () => ['--cert', files.foreign, '--key', files.foreignKey], reason: 'handshake_failed' },
      { name: 'refuses a client certificate from our root in another trust domain', cert: () => ['--cert', files.otherTd, '--key', files.otherTdKey], reason: 'trust_domain_mismatch' },
      { name: 'refuses an expired client certificate', cert: () => ['--cert', files.expired, '--key', files.expiredKey], reason: 'handshake_failed' },
      { name: 'refuses a client that sends no certificate', cert: () => [], reason: 'handshake_failed' },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const stats = server.hbone.stats;
        const start = { total: rejectionsTotal(server), reason: stats.connectionRejections.get(c.reason) ?? 0, streams: stats.streamsTotal, sessions: stats.sessionsTotal };
        const r = await client([...c.cert(), '--authority', `127.0.0.1:${upstream.port}`], randomBytes(64 * 1024));
        assert.equal(r.code, ExitCode.tls, describeRun(r));
        assert.match(r.stderr, /hbone_client: error: (tls |server closed the connection)/);
        assert.deepEqual(statuses(r), [], 'no stream may get a response');
        assert.ok(await eventually(() => rejectionsTotal(server) > start.total), `no connection rejection was counted: ${JSON.stringify([...stats.connectionRejections])}`);
        assert.equal(rejectionsTotal(server), start.total + 1);
        assert.equal(stats.connectionRejections.get(c.reason) ?? 0, start.reason + 1, `rejections: ${JSON.stringify([...stats.connectionRejections])}`);
        assert.equal(stats.sessionsTotal, start.sessions, 'no HTTP/2 session may start');
        assert.equal(stats.streamsTotal, start.streams);
        assert.equal(upstream.received(), 0);
      });
    }

    it('lets the client check the server identity and send nothing when it is not the expected one', async () => {
      const streams = server.hbone.stats.streamsTotal;
      const r = await client([...withClientCert(), '--authority', `127.0.0.1:${upstream.port}`, '--expect-san', formatIdentity(identity('default', 'other'))], randomBytes(1024));
      assert.equal(r.code, ExitCode.sanMismatch, describeRun(r));
      assert.match(r.stderr, /sa\/server.*is not.*sa\/other/);
      assert.equal(server.hbone.stats.streamsTotal, streams);
      assert.equal(upstream.received(), 0);
    });
  });

  describe('TLS session resumption', () => {
    it('does not resume a session the client offers from an earlier connection', async () => {
      const r = await client([...withClientCert(), '--resume-check']);
      assert.equal(r.code, ExitCode.ok, describeRun(r));
      const result = JSON.parse(r.stdout.toString('utf8')) as { session_reused: boolean };
      assert.equal(result.session_reused, false);
    });

    it('detects resumption against a server that allows it (control for the check above)', async () => {
      // Node's defaults (stateless tickets on) with the same certificates: the client must see
      // its session resumed here, or the check above would pass for the wrong reason.
      const sockets = new Set<Socket>();
      const control = http2.createSecureServer({
        key: mesh.serverCert.keyPem,
        cert: mesh.serverCert.chainPem,
        ca: mesh.ca.rootsPem,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.3',
      });
      control.on('connection', (s: Socket) => {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
      });
      control.on('session', (s) => s.on('error', () => undefined));
      await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
      try {
        const r = await client([...withClientCert(), '--resume-check'], undefined, (control.address() as AddressInfo).port);
        assert.equal(r.code, ExitCode.ok, describeRun(r));
        const result = JSON.parse(r.stdout.toString('utf8')) as { session_reused: boolean };
        assert.equal(result.session_reused, true);
      } finally {
        const closed = new Promise<void>((resolve) => control.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      }
    });
  });

  describe('refusing a bad request inside a session', () => {
    it('answers 400 to a CONNECT whose authority is not IP:port and keeps the session usable', async () => {
      const payload = randomBytes(50 * 1024);
      const stats = server.hbone.stats;
      const start = { bad: stats.streamRejections.get('bad_authority') ?? 0, sessions: stats.sessionsTotal };
      const r = await client([...withClientCert(), '--authority', 'abc', '--authority2', `127.0.0.1:${echo.port}`], payload);
      assert.equal(r.code, ExitCode.ok, describeRun(r));
      assert.deepEqual(statuses(r), [400, 200]);
      assert.ok(r.stdout.equals(payload), 'the second stream did not carry the payload back');
      assert.equal(stats.streamRejections.get('bad_authority'), start.bad + 1);
      assert.equal(stats.sessionsTotal, start.sessions + 1, 'both streams must share one session');
    });

    it('answers 400 to a non-CONNECT request and keeps the session usable', async () => {
      const payload = randomBytes(50 * 1024);
      const stats = server.hbone.stats;
      const start = { method: stats.streamRejections.get('method_not_connect') ?? 0, sessions: stats.sessionsTotal };
      const r = await client([...withClientCert(), '--method', 'GET', '--authority', `127.0.0.1:${echo.port}`, '--authority2', `127.0.0.1:${echo.port}`], payload);
      assert.equal(r.code, ExitCode.ok, describeRun(r));
      assert.deepEqual(statuses(r), [400, 200]);
      assert.ok(r.stdout.equals(payload), 'the second stream did not carry the payload back');
      assert.equal(stats.streamRejections.get('method_not_connect'), start.method + 1);
      assert.equal(stats.sessionsTotal, start.sessions + 1, 'both streams must share one session');
    });
  });
});
