// Interop: Ambit's HbonePool as the client of an HBONE server that shares no code with it.
// nghttpx --http2-proxy terminates mTLS 1.3 + HTTP/2 and forwards each CONNECT to tinyproxy,
// which dials the target (interop-peers.md). Covers tunnels, pooling, identity checks, statuses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as h2c } from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ErrorCode, isMeshError, type MeshError } from '../../shared/errors.js';
import { HbonePool, type HboneTarget, type HboneTunnelStream } from '../../shared/hbone/pool.js';
import { hboneEngines } from '../../shared/hbone/settings.js';
import type { Identity } from '../../shared/identity/spiffe.js';
import { silentLogger } from '../../shared/log.js';
import { createTestMesh, eventually, identity, startEcho, type TestMesh } from '../support/mesh.js';
import { startProcess, type ExternalProcess } from '../support/external-process.js';
import { freePort, waitForPort } from '../support/ports.js';
import { executable, findExecutable, requiredTools } from '../support/required-tools.js';

const skip = requiredTools([executable('nghttpx', 'nghttp2-proxy'), executable('tinyproxy', 'tinyproxy')]);

type Echo = Awaited<ReturnType<typeof startEcho>>;

/** `count` distinct free loopback ports (freePort alone may hand out the same one twice). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function tinyproxyConfig(port: number, connectPorts: readonly number[], logFile: string): string {
  return [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Timeout 30',
    'Allow 127.0.0.1',
    ...connectPorts.map((p) => `ConnectPort ${p}`),
    'MaxClients 50',
    'LogLevel Warning',
    `LogFile "${logFile}"`,
    '',
  ].join('\n');
}

function nghttpxArgs(o: { port: number; backendPort: number; keyFile: string; certFile: string; rootFile: string; logFile: string }): string[] {
  return [
    '--conf=/dev/null', // never the packaged /etc/nghttpx/nghttpx.conf
    '--single-process', // one pid to stop, no worker left behind
    '--workers=1',
    '--http2-proxy',
    `--frontend=127.0.0.1,${o.port}`,
    `--backend=127.0.0.1,${o.backendPort}`,
    '--tls-min-proto-version=TLSv1.3',
    '--tls-max-proto-version=TLSv1.3',
    '--npn-list=h2',
    '--verify-client',
    `--verify-client-cacert=${o.rootFile}`,
    '--no-ocsp',
    `--errorlog-file=${o.logFile}`,
    o.keyFile,
    o.certFile,
  ];
}

/**
 * Writes `payload` and resolves with exactly as many bytes as came back. The nghttpx + tinyproxy
 * chain does not carry our END_STREAM to the target as a FIN, so the echo never ends its side:
 * the byte count, not END_STREAM, says when the echo is complete.
 */
function roundTrip(stream: HboneTunnelStream, payload: Buffer, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      received += c.length;
      if (received >= payload.length) finish();
    };
    const onError = (err: Error): void => finish(err);
    const onClose = (): void => finish(new Error(`stream closed (code ${stream.rstCode}) after ${received} of ${payload.length} bytes`));
    const timer = setTimeout(() => finish(new Error(`only ${received} of ${payload.length} bytes came back within ${timeoutMs} ms`)), timeoutMs);
    stream.on('data', onData);
    stream.once('error', onError);
    stream.once('close', onClose);
    stream.write(payload);
  });
}

function closeStream(stream: HboneTunnelStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.close(h2c.NGHTTP2_CANCEL);
  });
}

describe('HbonePool against nghttpx --http2-proxy with tinyproxy', { skip, timeout: 60_000 }, () => {
  let dir: string;
  let mesh: TestMesh;
  let echo: Echo;
  const processes: { name: string; proc: ExternalProcess }[] = [];
  let nghttpxPort: number;
  /** An nghttpx whose backend (the HTTP proxy) is down. */
  let nghttpxNoBackendPort: number;
  /** Allowed by tinyproxy's ConnectPort, but nothing listens there. */
  let unreachablePort: number;
  let pool: HbonePool;

  function start(name: string, file: string, args: string[]): ExternalProcess {
    const proc = startProcess(file, args);
    processes.push({ name, proc });
    return proc;
  }

  async function ready(name: string, proc: ExternalProcess, port: number): Promise<void> {
    await waitForPort(port, {
      timeoutMs: 10_000,
      gaveUp: () => (proc.exitReason() === undefined ? undefined : `${name} ${proc.exitReason()}:\n${proc.output()}`),
    });
  }

  const target = (port: number, expected: Identity = mesh.serverId): HboneTarget => ({
    source: mesh.clientCert,
    expectedIdentities: [expected],
    nextHop: { host: '127.0.0.1', port },
  });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ambit-nghttpx-'));
    // With an intermediate: nghttpx must send it in its chain, and check ours up to the root.
    mesh = await createTestMesh({ intermediate: true });
    echo = await startEcho();
    let proxyPort: number;
    let deadBackendPort: number;
    [proxyPort, nghttpxPort, nghttpxNoBackendPort, deadBackendPort, unreachablePort] = (await freePorts(5)) as [number, number, number, number, number];
    const files = {
      key: join(dir, 'server-key.pem'),
      cert: join(dir, 'server-chain.pem'),
      root: join(dir, 'root.pem'),
      tinyproxy: join(dir, 'tinyproxy.conf'),
    };
    await writeFile(files.key, mesh.serverCert.keyPem, { mode: 0o600 });
    await writeFile(files.cert, mesh.serverCert.chainPem);
    await writeFile(files.root, mesh.ca.rootsPem);
    await writeFile(files.tinyproxy, tinyproxyConfig(proxyPort, [echo.port, unreachablePort], join(dir, 'tinyproxy.log')));

    const tinyproxy = start('tinyproxy', findExecutable('tinyproxy')!, ['-d', '-c', files.tinyproxy]);
    const nghttpx = findExecutable('nghttpx')!;
    const common = { keyFile: files.key, certFile: files.cert, rootFile: files.root };
    const main = start('nghttpx', nghttpx, nghttpxArgs({ ...common, port: nghttpxPort, backendPort: proxyPort, logFile: join(dir, 'nghttpx.log') }));
    const noBackend = start('nghttpx (no backend)', nghttpx, nghttpxArgs({ ...common, port: nghttpxNoBackendPort, backendPort: deadBackendPort, logFile: join(dir, 'nghttpx-no-backend.log') }));
    await Promise.all([ready('tinyproxy', tinyproxy, proxyPort), ready('nghttpx', main, nghttpxPort), ready('nghttpx (no backend)', noBackend, nghttpxNoBackendPort)]);
  });

  after(async () => {
    await Promise.all(processes.map(({ proc }) => proc.stop()));
    await echo?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });


  afterEach(async () => {
    await pool.close();
    assert.equal(pool.sessionCount(), 0, 'pool sessions left after close()');
    assert.equal(pool.activeStreams(), 0, 'pool streams left after close()');
    const clean = await eventually(() => echo.connections() === 0);
    assert.ok(clean, `echo still has ${echo.connections()} connections`);
    for (const { name, proc } of processes) assert.equal(proc.exitReason(), undefined, `${name} died during the test:\n${proc.output()}`);
  });


  // Both HTTP/2 engines of the pool (settings.ts) against nghttp2's server.
  for (const engine of hboneEngines) {
    describe(`with the ${engine} engine`, () => {
      beforeEach(() => {
        pool = new HbonePool({ logger: silentLogger(), connectTimeoutMs: 5_000, engine });
      });

    it('tunnels bytes to the echo backend and back unchanged', async () => {
      const payload = randomBytes(256 * 1024);
      const receivedBefore = echo.received();
      const stream = await pool.connect({ ...target(nghttpxPort), authority: `127.0.0.1:${echo.port}` });
      const back = await roundTrip(stream, payload);
      assert.equal(back.length, payload.length);
      assert.ok(back.equals(payload), 'the bytes that came back differ from the bytes sent');
      assert.equal(echo.received() - receivedBefore, payload.length);
      await closeStream(stream);
    });

    it('carries several concurrent streams over one pooled session', async () => {
      const count = 8;
      const payloads = Array.from({ length: count }, () => randomBytes(64 * 1024));
      const streams = await Promise.all(payloads.map(() => pool.connect({ ...target(nghttpxPort), authority: `127.0.0.1:${echo.port}` })));
      try {
        assert.equal(pool.sessionCount(), 1);
        assert.equal(pool.activeStreams(), count);
        const backs = await Promise.all(streams.map((s, i) => roundTrip(s, payloads[i]!)));
        backs.forEach((back, i) => assert.ok(back.equals(payloads[i]!), `stream ${i} got back different bytes`));
        assert.equal(pool.sessionCount(), 1);
      } finally {
        await Promise.all(streams.map(closeStream));
      }
    });

    it('refuses nghttpx when its certificate carries another SPIFFE identity than expected, before any stream', async () => {
      const receivedBefore = echo.received();
      const expected = identity('default', 'not-nghttpx');
      await assert.rejects(pool.connect({ ...target(nghttpxPort, expected), authority: `127.0.0.1:${echo.port}` }), (err: unknown) => {
        assert.ok(isMeshError(err, ErrorCode.HboneConnect), `expected MeshError ${ErrorCode.HboneConnect}, got ${String(err)}`);
        assert.match(err.message, /identity_mismatch/);
        assert.match(err.message, /spiffe:\/\/cluster\.local\/ns\/default\/sa\/server/);
        return true;
      });
      assert.equal(pool.sessionCount(), 0);
      assert.equal(echo.received(), receivedBefore, 'the echo backend must receive nothing');
    });

    it('rejects with HBONE_STATUS carrying the 500 tinyproxy answers when the CONNECT target is unreachable', async () => {
      // tinyproxy answers "500 Unable to connect" and nghttpx relays it; nghttpx's own 502 is for
      // an unreachable backend proxy (next test). The session stays usable afterwards.
      await assert.rejects(pool.connect({ ...target(nghttpxPort), authority: `127.0.0.1:${unreachablePort}` }), (err: unknown) => {
        assert.ok(isMeshError(err, ErrorCode.HboneStatus), `expected MeshError ${ErrorCode.HboneStatus}, got ${String(err)}`);
        assert.equal((err as MeshError & { status?: number }).status, 500);
        return true;
      });
      const payload = randomBytes(4096);
      const stream = await pool.connect({ ...target(nghttpxPort), authority: `127.0.0.1:${echo.port}` });
      assert.ok((await roundTrip(stream, payload)).equals(payload));
      assert.equal(pool.sessionCount(), 1);
      await closeStream(stream);
    });

    it('rejects with HBONE_STATUS 502 when nghttpx cannot reach its backend proxy', async () => {
      await assert.rejects(pool.connect({ ...target(nghttpxNoBackendPort), authority: `127.0.0.1:${echo.port}` }), (err: unknown) => {
        assert.ok(isMeshError(err, ErrorCode.HboneStatus), `expected MeshError ${ErrorCode.HboneStatus}, got ${String(err)}`);
        assert.equal((err as MeshError & { status?: number }).status, 502);
        return true;
      });
    });
    });
  }
});
