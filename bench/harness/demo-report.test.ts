import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { trafficLines } from '../../demo/traffic-lines.js';
import { TrafficStats } from '../../demo/traffic-stats.js';
import { coresOf, cpuUsPerRequest, formatDemoBenchReport, stepLines, type DemoBenchStep } from './demo-report.js';

function step(): DemoBenchStep {
  const t = new TrafficStats();
  for (let i = 1; i <= 180; i++) t.record({ status: 200, pod: 'echo-v1' }, 2 + i / 100);
  for (let i = 1; i <= 20; i++) t.record({ status: 200, pod: 'echo-v2' }, 5 + i / 10);
  return {
    scenario: 'canary', label: '90/10', from: 'client', url: 'http://10.15.96.10/', rps: 100, seconds: 2,
    summary: t.summary(2000),
    verdict: { ok: true, text: 'v2 got 10.0% of 200' },
    cpu: { wallS: 2, cpuS: { 'ztunnel-node-1': 0.2, waypoint: 0.5, 'app-client': 0.1, 'app-echo-v1': 0.3 }, backgroundCores: 0.04, kernelCores: 0.01, stealCores: 0 },
    rssMb: { waypoint: 71.4, 'ztunnel-node-1': 60 },
  };
}

describe('demo bench report', () => {
  it('prints a step\'s traffic with exactly the lines `ambit demo` prints for it', () => {
    const s = step();
    const demoLines = trafficLines(s.summary, 'client');
    assert.equal(demoLines.length, 3);
    assert.deepEqual(stepLines(s).slice(1, 4), demoLines.map((l) => `  ${l}`));
    assert.ok(formatDemoBenchReport([s]).includes(demoLines.join('\n  ')));
  });

  it('turns CPU seconds over the step into cores and microseconds per request', () => {
    const s = step();
    assert.equal(coresOf(s, 'waypoint'), 0.25);
    assert.equal(coresOf(s, 'apps'), 0.2);
    assert.equal(cpuUsPerRequest(s, 'waypoint'), 2500);
    assert.ok(Number.isNaN(coresOf(s, 'controlplane')));
    const lines = stepLines(s);
    assert.equal(lines[4], '  cpu     cores: ztunnel-node-1 0.10, ztunnel-node-2 -, waypoint 0.25, controlplane -, apps 0.20; waypoint 2,500 us/req');
    assert.equal(lines[5], '  rss     MB at the end: ztunnel-node-1 60, ztunnel-node-2 -, waypoint 71, controlplane -');
    assert.equal(lines[6], '  machine other load 0.04 cores, kernel threads 0.01, steal 0.00');
  });

  it('ends with one table row per step, its latency formatted as the demo formats it', () => {
    const table = formatDemoBenchReport([step()]).split('\n').slice(-3);
    assert.match(table[0] ?? '', /^step\s+req\/s\s+2xx\s+p50\s+p99/);
    // 200 requests: p50 = 100th (3.00 ms), p99 = 198th (6.8 ms).
    assert.match(table[2] ?? '', /^canary \/ 90\/10\s+100\s+100\.0%\s+3\.0 ms\s+6\.8 ms\s+0\.10\s+-\s+0\.25\s+2,500\s+71\s+0\.04\s+ok$/);
  });
});
