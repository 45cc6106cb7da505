import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../shared/clock.js';
import { OutlierDetectorSet } from './outlier-detector-set.js';

const hosts = Array.from({ length: 10 }, (_, i) => `h${i}`);

describe('OutlierDetectorSet', () => {
  it('keeps a cluster\'s detector and its ejections across updates and re-tracks its hosts', () => {
    const clock = new ManualClock();
    const set = new OutlierDetectorSet(clock);
    const d = set.forCluster('c', {}, hosts)!;
    for (let i = 0; i < 5; i++) d.record('h1', { status: 500 });
    const again = set.forCluster('c', { intervalMs: 5_000 }, hosts);
    assert.equal(again, d);
    assert.equal(again?.isEjected('h1'), true);
    assert.equal(again?.settings.intervalMs, 5_000);
    set.forCluster('c', { intervalMs: 5_000 }, hosts.slice(2));
    assert.equal(d.hostCount(), 8);
    set.close();
  });

  it('has no detector for a cluster without outlierDetection and closes the timers of dropped ones', () => {
    const clock = new ManualClock();
    const set = new OutlierDetectorSet(clock);
    assert.equal(set.forCluster('none', undefined, hosts), undefined);
    set.forCluster('a', {}, hosts);
    set.forCluster('b', {}, hosts);
    assert.equal(clock.pendingTimers(), 2);
    set.forCluster('a', undefined, hosts);
    assert.equal(clock.pendingTimers(), 1);
    set.retain(new Set());
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(set.size, 0);
  });

  it('hands each cluster its own listener', () => {
    const clock = new ManualClock();
    const events: string[] = [];
    const set = new OutlierDetectorSet(clock, (cluster) => ({ onEject: (key) => events.push(`${cluster}:${key}`) }));
    const d = set.forCluster('c1', {}, hosts)!;
    for (let i = 0; i < 5; i++) d.record('h3', { connectFailure: true });
    assert.deepEqual(events, ['c1:h3']);
    set.close();
  });
});
