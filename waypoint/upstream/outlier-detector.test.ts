import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { OutlierDetector, resolveOutlierSettings, type OutlierSettings } from './outlier-detector.js';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);
const open: OutlierDetector[] = [];

function detector(clock: ManualClock, settings: Partial<OutlierSettings> = {}, n = 10): OutlierDetector {
  const d = new OutlierDetector({ ...resolveOutlierSettings({}), ...settings }, clock);
  d.setHosts(hosts(n));
  open.push(d);
  return d;
}

function fail(d: OutlierDetector, key: string, times: number, status = 500): void {
  for (let i = 0; i < times; i++) d.record(key, { status });
}

afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

describe('resolveOutlierSettings', () => {
  it('fills istio/api defaults: 5 consecutive 5xx, gateway errors off, 10 s, 30 s, 10 %, min health 0 %', () => {
    assert.deepEqual(resolveOutlierSettings({}), {
      consecutive5xxErrors: 5, consecutiveGatewayErrors: 0, intervalMs: 10_000, baseEjectionTimeMs: 30_000,
      maxEjectionTimeMs: 300_000, maxEjectionPercent: 10, minHealthPercent: 0, alwaysEjectOneHost: false,
    });
    const s = resolveOutlierSettings({ consecutive5xxErrors: 0, baseEjectionTimeMs: 600_000, maxEjectionPercent: 150, minHealthPercent: 50 });
    assert.equal(s.consecutive5xxErrors, 0);
    assert.equal(s.maxEjectionTimeMs, 600_000, 'the cap is never below the base');
    assert.equal(s.maxEjectionPercent, 100);
    assert.equal(s.minHealthPercent, 50);
  });
});

describe('OutlierDetector', () => {
  it('ejects a host after 5 consecutive 5xx, and a success in between restarts the count', () => {
    const clock = new ManualClock();
    const d = detector(clock);
    fail(d, 'h1', 4);
    d.record('h1', { status: 200 });
    fail(d, 'h1', 4);
    assert.equal(d.isEjected('h1'), false);
    fail(d, 'h1', 1);
    assert.equal(d.isEjected('h1'), true);
    assert.equal(d.isEjected('h2'), false);
    assert.equal(d.ejectedCount(), 1);
  });

  it('ignores 5xx runs when consecutive5xxErrors is 0', () => {
    const d = detector(new ManualClock(), { consecutive5xxErrors: 0 });
    fail(d, 'h1', 50);
    assert.equal(d.isEjected('h1'), false);
  });

  it('counts only unbroken runs of 502/503/504 and connect failures for gateway errors', () => {
    const d = detector(new ManualClock(), { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3 });
    d.record('h1', { status: 503 });
    d.record('h1', { connectFailure: true });
    d.record('h1', { status: 500 });
    d.record('h1', { status: 502 });
    assert.equal(d.isEjected('h1'), false, 'the 500 broke the run');
    d.record('h1', { gatewayError: true });
    d.record('h1', { status: 504 });
    assert.equal(d.isEjected('h1'), true);
  });

  it('keeps ejections within maxEjectionPercent of the hosts, counting the one about to go', () => {
    const d = detector(new ManualClock(), { maxEjectionPercent: 20 }, 10);
    fail(d, 'h1', 5);
    fail(d, 'h2', 5);
    fail(d, 'h3', 5);
    assert.deepEqual([d.isEjected('h1'), d.isEjected('h2'), d.isEjected('h3')], [true, true, false]);
  });

  it('ejects nobody from a 3-host cluster at the default 10 % unless alwaysEjectOneHost is set, and then only one', () => {
    const strict = detector(new ManualClock(), {}, 3);
    fail(strict, 'h0', 5);
    assert.equal(strict.isEjected('h0'), false);
    const lenient = detector(new ManualClock(), { alwaysEjectOneHost: true }, 3);
    fail(lenient, 'h0', 5);
    fail(lenient, 'h1', 5);
    assert.equal(lenient.isEjected('h0'), true);
    assert.equal(lenient.isEjected('h1'), false);
  });

  it('retries the ejection of a held-back host after another full run of errors once there is room', () => {
    const clock = new ManualClock();
    const d = detector(clock, { alwaysEjectOneHost: true }, 3);
    fail(d, 'h0', 5);
    fail(d, 'h1', 5);
    assert.equal(d.isEjected('h1'), false);
    clock.advance(40_000);
    assert.equal(d.isEjected('h0'), false);
    fail(d, 'h1', 4);
    assert.equal(d.isEjected('h1'), false);
    fail(d, 'h1', 1);
    assert.equal(d.isEjected('h1'), true);
  });

  it('returns a host at the first sweep after baseEjectionTime, not before', () => {
    const clock = new ManualClock();
    const d = detector(clock);
    clock.advance(1_000);
    fail(d, 'h1', 5);
    clock.advance(29_000); // sweep at 30 s: ejected 29 s ago
    assert.equal(d.isEjected('h1'), true);
    clock.advance(10_000); // sweep at 40 s
    assert.equal(d.isEjected('h1'), false);
    assert.equal(d.ejectedCount(), 0);
  });

  it('ejects a host that fails again at once for twice as long', () => {
    const clock = new ManualClock();
    const d = detector(clock);
    clock.advance(1_000);
    fail(d, 'h1', 5);
    clock.advance(39_000); // unejected at the 40 s sweep
    clock.advance(1_000);
    fail(d, 'h1', 5); // second ejection at 41 s: 60 s
    clock.advance(59_000); // sweep at 100 s: 59 s
    assert.equal(d.isEjected('h1'), true);
    clock.advance(10_000); // sweep at 110 s
    assert.equal(d.isEjected('h1'), false);
  });

  it('shrinks the ejection time again after the host stays healthy for an interval', () => {
    const clock = new ManualClock();
    const d = detector(clock);
    clock.advance(1_000);
    fail(d, 'h1', 5);
    clock.advance(39_000); // unejected at 40 s
    clock.advance(15_000); // the 50 s sweep sees a healthy interval: multiplier back to 0
    fail(d, 'h1', 5); // ejected at 55 s for 30 s, not 60 s
    clock.advance(25_000); // sweep at 80 s: 25 s
    assert.equal(d.isEjected('h1'), true);
    clock.advance(10_000); // sweep at 90 s: 35 s
    assert.equal(d.isEjected('h1'), false);
  });

  it('never ejects for longer than the max ejection time (300 s)', () => {
    const clock = new ManualClock();
    const durations: number[] = [];
    const d = new OutlierDetector({ ...resolveOutlierSettings({ baseEjectionTimeMs: 100_000, intervalMs: 1_000 }) }, clock, {
      onEject: (_key, _n, ms) => durations.push(ms),
    });
    open.push(d);
    d.setHosts(hosts(10));
    for (let round = 0; round < 6; round++) {
      fail(d, 'h1', 5);
      while (d.isEjected('h1')) clock.advance(1_000);
    }
    assert.deepEqual(durations, [100_000, 200_000, 300_000, 300_000, 300_000, 300_000]);
  });

  it('forgets removed hosts and their ejections, freeing the ejection budget', () => {
    const d = detector(new ManualClock(), {}, 10);
    fail(d, 'h1', 5);
    fail(d, 'h2', 5);
    assert.equal(d.isEjected('h2'), false);
    d.setHosts(hosts(10).filter((h) => h !== 'h1'));
    assert.equal(d.ejectedCount(), 0);
    assert.equal(d.hostCount(), 9);
    fail(d, 'h3', 5);
    assert.equal(d.isEjected('h3'), false, '1 of 9 is 11 %, above 10 %');
    d.setHosts(hosts(10));
    fail(d, 'h3', 5);
    assert.equal(d.isEjected('h3'), true);
  });

  it('keeps ejections across a settings update and stops its timer on close', () => {
    const clock = new ManualClock();
    const d = new OutlierDetector(resolveOutlierSettings({}), clock);
    d.setHosts(hosts(10));
    fail(d, 'h1', 5);
    d.updateSettings(resolveOutlierSettings({ intervalMs: 5_000 }));
    assert.equal(d.isEjected('h1'), true);
    assert.equal(clock.pendingTimers(), 1);
    d.close();
    assert.equal(clock.pendingTimers(), 0);
  });
});
