// Backend faults behind the HBONE server (15008), reliability cases 18 and 19: a backend RST maps
// to RST_STREAM(CONNECT_ERROR) on that stream only (RFC 9113 §8.5), and a backend FIN maps to
// END_STREAM while the client may keep sending until it closes too.
import assert from 'node:assert/strict';
import { constants as h2c } from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import type { HboneConnectHandler } from '../../shared/hbone/server.js';
import type { RelayResult } from '../../shared/net/relay.js';
import type { HboneTunnelStream } from '../../shared/hbone/pool.js';
import { HboneHarness } from '../support/hbone-harness.js';
import { connectToAuthority, createTestMesh, eventually, type TestMesh } from '../support/mesh.js';
import { within } from '../support/within.js';

/** A hung await fails its suite instead of hanging the run. */
const suiteTimeoutMs = 30_000;

interface Backend {
  readonly port: number;
  /** Bytes received after the backend sent its FIN. */
  afterFin(): string;
  /** How the backend's sockets closed: true when with an error. */
  readonly closes: boolean[];
  close(): Promise<void>;
}

/** A loopback TCP server running `onSocket` for each connection, tracking its sockets. */
async function startBackend(onSocket: (s: Socket, state: { afterFin: string }) => void): Promise<Backend> {
  const sockets = new Set<Socket>();
  const closes: boolean[] = [];
  const state = { afterFin: '' };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', (hadError) => {
      sockets.delete(s);
      closes.push(hadError);
    });
    onSocket(s, state);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    afterFin: () => state.afterFin,
    closes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Echoes data, and resets the connection (TCP RST) when it reads "RST". */
const resetOnCommand = (s: Socket): void => {
  s.on('data', (d: Buffer) => {
    if (d.toString().includes('RST')) s.resetAndDestroy();
    else s.write(d);
  });
};

/** Replies "reply" to the first data, then sends FIN while still reading what comes after. */
const halfCloseAfterReply = (s: Socket, state: { afterFin: string }): void => {
  let finSent = false;
  s.on('data', (d: Buffer) => {
    if (finSent) {
      state.afterFin += d.toString();
      return;
    }
    finSent = true;
    s.end('reply');
  });
  s.on('end', () => undefined);
};

let mesh: TestMesh;
let h: HboneHarness;
let backend: Backend | undefined;
let relays: RelayResult[];

before(async () => {
  mesh = await createTestMesh();
});
beforeEach(async () => {
  backend = undefined;
  relays = [];
  const onConnect: HboneConnectHandler = async (req) => {
    const decision = await connectToAuthority(req);
    return decision.status === 200 ? { ...decision, onDone: (r) => relays.push(r) } : decision;
  };
  h = await HboneHarness.start(mesh, { onConnect });
});
afterEach(async () => {
  await h.close();
  await backend?.close();
});

function connect(port: number): Promise<HboneTunnelStream> {
  return h.pool.connect({ source: mesh.clientCert, expectedIdentities: [mesh.serverId], nextHop: { host: '127.0.0.1', port: h.port }, authority: `127.0.0.1:${port}` });
}

function nextData(stream: HboneTunnelStream): Promise<string> {
  return within(new Promise((resolve) => stream.once('data', (d: Buffer) => resolve(d.toString()))), 5000, 'data on the stream');
}

function closed(stream: HboneTunnelStream): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return within(new Promise((resolve) => stream.once('close', () => resolve())), 5000, 'the stream to close');
}

describe('HBONE server maps a backend reset to RST_STREAM(CONNECT_ERROR) (case 18)', { timeout: suiteTimeoutMs }, () => {
  it('resets only the affected stream and leaves the other stream on the same session working', async () => {
    backend = await startBackend(resetOnCommand);
    const victim = await connect(backend.port);
    const other = await connect(h.control.port);
    const session = victim.session;
    assert.ok(session && session === other.session, 'fixture: both streams share one pooled session');
    victim.on('error', () => undefined);

    victim.write('one');
    assert.equal(await nextData(victim), 'one', 'the stream works before the reset');
    victim.write('RST');
    await closed(victim);
    assert.equal(victim.rstCode, h2c.NGHTTP2_CONNECT_ERROR, 'the client stream is reset with CONNECT_ERROR');

    other.write('still here');
    assert.equal(await nextData(other), 'still here', 'the other stream still relays');
    other.end();
    other.resume();
    await closed(other);
    assert.equal(other.rstCode, h2c.NGHTTP2_NO_ERROR, 'the other stream closes cleanly');
    assert.equal(session.destroyed, false, 'the session survived the reset');
    assert.equal(h.pool.sessionCount(), 1, 'and is still pooled');

    assert.ok(await eventually(() => relays.length === 2), 'both relays finished');
    assert.deepEqual(relays.map((r) => r.end).sort(), ['completed', 'socket_reset']);
    assert.ok(await eventually(() => h.hbone.stats.streamsOpen === 0), 'the stream counters went back to 0');
    await h.assertServing();
    await h.assertReleased();
  });
});

describe('HBONE server maps a backend FIN to END_STREAM and keeps the other direction open (case 19)', { timeout: suiteTimeoutMs }, () => {
  it('delivers the reply and END_STREAM, then lets the client keep sending until it closes', async () => {
    backend = await startBackend(halfCloseAfterReply);
    const stream = await connect(backend.port);
    const received: Buffer[] = [];
    stream.on('data', (d: Buffer) => received.push(d));
    const ended = new Promise<void>((resolve) => stream.once('end', () => resolve()));

    stream.write('hello');
    await within(ended, 5000, 'END_STREAM from the backend FIN');
    assert.equal(Buffer.concat(received).toString(), 'reply', 'the whole reply arrives before END_STREAM');
    assert.equal(stream.writable, true, 'the client can still write after END_STREAM');

    stream.write('more after fin');
    assert.ok(await eventually(() => backend!.afterFin() === 'more after fin'), `the backend receives bytes sent after its FIN (got ${JSON.stringify(backend.afterFin())})`);
    stream.end();
    await closed(stream);
    assert.equal(stream.rstCode, h2c.NGHTTP2_NO_ERROR, 'the stream closes without a reset');

    assert.ok(await eventually(() => relays.length === 1), 'the relay finished');
    const [relay] = relays;
    assert.equal(relay?.end, 'completed', 'the relay completed in both directions');
    assert.equal(relay?.bytesAtoB, 'hello'.length + 'more after fin'.length);
    assert.equal(relay?.bytesBtoA, 'reply'.length);
    assert.ok(await eventually(() => backend!.closes.length === 1), 'the backend connection closed');
    assert.deepEqual(backend.closes, [false], 'without an error on the backend side');
    await h.assertServing();
    await h.assertReleased();
  });
});
