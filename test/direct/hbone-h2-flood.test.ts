// HTTP/2 floods on the HBONE server (15008), reliability cases 12 and 15: Rapid Reset
// (CVE-2023-44487), SETTINGS and PING floods, a connection-window overflow and an oversized
// SETTINGS frame each end with the attacking connection closed, while a pooled control tunnel on
// another session keeps working; after hundreds of such connections, handles return to baseline.
// No timing or CPU assertions here: those belong in bench/.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { afterEach, before, beforeEach, describe, it } from 'node:test';
import { HboneDefaults } from '../../shared/hbone/settings.js';
import { connectBlock, H2Error, headersFrame, pingFrame, rstStreamFrame, settingsFrame, SettingsId, windowUpdateFrame } from '../support/h2-frames.js';
import { HboneHarness, SuiteOptions } from '../support/hbone-harness.js';
import { createTestMesh, eventually, type TestMesh } from '../support/mesh.js';
import type { RawH2Client } from '../support/raw-h2-client.js';
import { within } from '../support/within.js';

/** A hung await fails its suite instead of hanging the run. */
const suiteTimeoutMs = 30_000;

let mesh: TestMesh;
let h: HboneHarness;

before(async () => {
  mesh = await createTestMesh();
});
// Suites whose attacks leave nghttp2-terminated sessions (GOAWAY sent, socket never closed by
// Node 20) turn the server keepalive on: only a PING deadline finds those. The others run without
// it, so a passing flood test cannot be the keepalive closing a silent attacker.
const options = new SuiteOptions();
beforeEach(async () => {
  h = await HboneHarness.start(mesh, options.current);
});
afterEach(() => h.close());

/**
 * Runs `attack` while control tunnels go through a session pooled before it started; returns what
 * the attack returned and how many control tunnels completed while it ran (each must succeed).
 */
async function underAttack<T>(attack: () => Promise<T>): Promise<{ result: T; controlDuring: number }> {
  await h.assertServing('before');
  let done = false;
  let controlDuring = 0;
  const control = (async () => {
    while (!done) {
      await h.assertServing(`during ${controlDuring}`);
      if (!done) controlDuring++;
    }
  })();
  try {
    return { result: await attack(), controlDuring };
  } finally {
    done = true;
    await control;
  }
}

/** Streams HboneServer saw other than the (all accepted) control tunnels. */
function attackStreamCount(): number {
  return h.hbone.stats.streamsTotal - h.hbone.stats.streamsAccepted;
}

/** A GOAWAY is optional (the server may drop the socket first), but if one came it names an error. */
function assertGoawayIsError(raw: RawH2Client, allowed: readonly number[]): void {
  const code = raw.goaways[0]?.errorCode;
  if (code !== undefined) assert.ok(allowed.includes(code), `GOAWAY code ${code}, expected one of ${allowed.join(', ')}`);
}

describe('HBONE server closes Rapid Reset sessions (case 12)', { timeout: suiteTimeoutMs }, () => {
  it('closes a session that opens and immediately resets streams, within the premature-reset budget', async () => {
    const maxPairs = 20_000;
    const { result: raw, controlDuring } = await underAttack(async () => {
      const attacker = await h.rawClient();
      const block = connectBlock(h.victimAuthority());
      await attacker.flood(maxPairs, (i) => Buffer.concat([headersFrame(2 * i + 1, block), rstStreamFrame(2 * i + 1, H2Error.Cancel)]));
      await attacker.waitClosed(3000);
      return attacker;
    });
    assert.equal(raw.closed, true, 'the attacking session is closed');
    assert.equal(h.hbone.stats.connectionRejections.get('premature_resets'), 1, 'counted as premature_resets');
    const budget = HboneDefaults.prematureResetMinStreams + HboneDefaults.maxStreamsPerTick;
    const attackStreams = attackStreamCount();
    assert.ok(attackStreams <= budget, `closed after ${attackStreams} attack streams (budget ${budget})`);
    assertGoawayIsError(raw, [H2Error.EnhanceYourCalm]);
    assert.ok(controlDuring >= 1, 'a control tunnel completed during the attack');
    assert.equal(h.victim.received(), 0, 'the backend received nothing');
    await h.assertServing('after');
    await h.assertReleased();
  });

  it('does not close a busy session whose streams are all answered (no false positive)', async () => {
    const session = http2.connect(`https://127.0.0.1:${h.port}`, { key: mesh.clientCert.keyPem, cert: mesh.clientCert.chainPem, ca: mesh.ca.rootsPem, checkServerIdentity: () => undefined });
    session.on('error', () => undefined);
    h.onCloseClients(() => session.destroy());
    // 600 streams in batches of 100, each answered 400 by the server: over the detector's 500-stream floor.
    for (let batch = 0; batch < 6; batch++) {
      const statuses = await within(Promise.all(
        Array.from({ length: 100 }, () => new Promise<number>((resolve) => {
          const s = session.request({ ':method': 'CONNECT', ':authority': 'not-an-ip' });
          s.on('response', (hs) => resolve(Number(hs[':status'])));
          s.on('error', () => resolve(-1));
          s.resume();
        })),
      ), 5000, `batch ${batch} answers`);
      assert.deepEqual(new Set(statuses), new Set([400]), `batch ${batch}: every stream answered 400`);
    }
    assert.equal(session.destroyed || session.closed, false, 'the session stays open');
    assert.equal(h.hbone.stats.connectionRejections.size, 0, 'nothing counted against the session');
    await h.assertServing();
    await h.assertReleased();
  });
});

/** One connection-level attack: what to send, and the GOAWAY codes accepted if one arrives. */
interface Attack {
  readonly name: string;
  /** Sends the attack; returns how many frames it wrote. */
  readonly run: (raw: RawH2Client) => Promise<number>;
  /** The server must have cut the attack off before it wrote this many frames (0: a one-frame attack). */
  readonly frames: number;
  readonly goaway: readonly number[];
}

// Frames per write: a burst the server parses in one go, queueing more ACKs than nghttp2's
// outbound limit (1000). A paced flood that the server can ACK as fast as it comes is not cut
// off (see the report).
const burst = 4096;

const attacks: readonly Attack[] = [
  // RFC 9113 §6.9.1 names FLOW_CONTROL_ERROR; Node's http2 reports nghttp2's error as INTERNAL_ERROR.
  {
    name: 'a WINDOW_UPDATE on stream 0 overflowing 2^31-1',
    run: async (raw) => (raw.write(windowUpdateFrame(0, 0x7fffffff)), 1),
    frames: 0,
    goaway: [H2Error.FlowControlError, H2Error.InternalError],
  },
  {
    name: 'a SETTINGS flood whose ACKs it never reads',
    run: (raw) => {
      raw.socket.pause();
      return raw.flood(200_000, () => settingsFrame([[SettingsId.InitialWindowSize, 65535]]), burst);
    },
    frames: 200_000,
    goaway: [H2Error.EnhanceYourCalm, H2Error.InternalError],
  },
  {
    name: 'a PING flood whose ACKs it never reads',
    run: (raw) => {
      raw.socket.pause();
      return raw.flood(200_000, () => pingFrame(), burst);
    },
    frames: 200_000,
    goaway: [H2Error.EnhanceYourCalm, H2Error.InternalError],
  },
];

async function runAttack(attack: Attack): Promise<RawH2Client> {
  const raw = await h.rawClient();
  const sent = await attack.run(raw);
  const closed = await raw.waitClosed(3000);
  raw.socket.resume();
  assert.equal(closed, true, `${attack.name}: the server closes the connection`);
  if (attack.frames > 0) assert.ok(sent < attack.frames, `${attack.name}: cut off after ${sent} of ${attack.frames} frames`);
  assertGoawayIsError(raw, attack.goaway);
  return raw;
}

describe('HBONE server closes SETTINGS, PING and WINDOW_UPDATE floods (case 15)', { timeout: suiteTimeoutMs }, () => {
  for (const attack of attacks) {
    it(`closes every connection sending ${attack.name}, serving others meanwhile`, async () => {
      // Ten attackers back to back keep the server under attack long enough to interleave control tunnels.
      const { result: attackers, controlDuring } = await underAttack(async () => {
        const all: RawH2Client[] = [];
        for (let i = 0; i < 10; i++) all.push(await runAttack(attack));
        return all;
      });
      assert.equal(attackers.filter((a) => a.closed).length, 10, 'all ten attack connections were closed by the server');
      assert.ok(controlDuring >= 1, `control tunnels completed during the attack: ${controlDuring}`);
      assert.equal(attackStreamCount(), 0, 'no attack stream reached HboneServer');
      await h.assertServing('after');
      await h.assertReleased();
    });
  }

  it('returns to its baseline handle count after 300 flood connections', async () => {
    await h.assertServing('warm-up');
    await h.closeClients();
    assert.ok(await eventually(() => h.hbone.connectionCount() === 0), 'fixture: warm-up released');
    const baseline = process.getActiveResourcesInfo().length;
    const perAttack = 100;
    const concurrency = 10;
    let next = 0;
    const jobs = attacks.flatMap((a) => Array.from({ length: perAttack }, () => a));
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const raw = await runAttack(jobs[next++]!);
        raw.destroy();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    assert.equal(h.hbone.stats.sessionsTotal, jobs.length + 1, 'every flood connection had its session');
    await h.assertServing('after 300 floods');
    await h.assertReleased();
    const settled = await eventually(() => process.getActiveResourcesInfo().length <= baseline + 2);
    assert.ok(settled, `handles back near baseline: ${process.getActiveResourcesInfo().length} vs ${baseline} (${process.getActiveResourcesInfo().join(',')})`);
  });
});

describe('HBONE server closes the connection after refusing an oversized SETTINGS frame (case 15)', { timeout: suiteTimeoutMs }, () => {
  options.useKeepalive();

  it('sends GOAWAY(ENHANCE_YOUR_CALM) and closes the connection on a SETTINGS frame with more than maxSettings entries', async () => {
    const raw = await h.rawClient();
    assert.ok(await eventually(() => raw.settingsAcks > 0), 'fixture: the session is up');
    raw.write(settingsFrame(Array.from({ length: 40 }, () => [SettingsId.MaxConcurrentStreams, 100] as const)));
    assert.ok(await eventually(() => raw.goaways.length > 0 || raw.closed, 2000), 'the server reacts');
    assert.equal(raw.goaways[0]?.errorCode, H2Error.EnhanceYourCalm);
    // RFC 9113 §5.4.1: after a GOAWAY for a connection error the endpoint MUST close the TCP connection.
    assert.equal(await raw.waitClosed(2000), true, 'the server closes the connection after its GOAWAY');
    await h.assertServing();
    await h.assertReleased();
  });
});

describe('HBONE server closes paced PING and SETTINGS floods (case 15)', { timeout: suiteTimeoutMs }, () => {
  // Before the per-session control-frame budget, a flood paced under nghttp2's outstanding-ACK
  // limit (a few frames per write, ACKs read) was answered forever: 200k frames, never cut off.
  for (const [name, make] of [['PING', () => pingFrame()], ['SETTINGS', () => settingsFrame([[SettingsId.InitialWindowSize, 65535]])]] as const) {
    it(`closes a session sending a paced ${name} flood whose ACKs it reads, serving others meanwhile`, async () => {
      const { result: raw, controlDuring } = await underAttack(async () => {
        const client = await h.rawClient();
        const sent = await client.flood(20_000, make, 4);
        assert.ok(await client.waitClosed(3000), `the server closes the connection (sent ${sent})`);
        assert.ok(sent < 20_000, `cut off after ${sent} of 20000 frames`);
        return client;
      });
      assert.ok(raw.closed);
      assert.ok(controlDuring >= 1, `control tunnels completed during the attack: ${controlDuring}`);
      assert.equal(h.hbone.stats.connectionRejections.get('control_frame_flood'), 1);
      assert.ok(HboneDefaults.maxControlFramesPerSecond < 20_000);
      await h.assertServing('after');
      await h.assertReleased();
    });
  }
});
