import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { summarize, type HoldResult, type PathName, type PathRound } from './ztunnel-netns-report.js';

const wrk = (rps: number, cpuS: Record<string, number> = {}) => ({
  requests: rps * 2, durationS: 2, requestsPerSec: rps, bytesRead: 0, non2xx: 0, latencyMeanMs: 1,
  socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, cpuS,
});
/** A 5-s paced phase at 1,000 rps with the given p99 and per-process CPU seconds. */
const paced = (p99: number, cpuS: Record<string, number> = {}) => ({
  requests: 5000, completed: 5000, errors: 0, queued: 0, durationS: 5, achievedRps: 1000,
  latencyMs: { p50: p99 / 4, p90: p99 / 2, p99, max: p99 * 2 }, latencyFromScheduleMs: { p50: p99 / 4, p99 }, cpuS, rssMb: {},
});

function round(withNodePair: boolean, ztCpuS: number): Record<PathName, PathRound> {
  return {
    direct: { rps: wrk(40_000), latency: paced(0.4) },
    ambit: { rps: wrk(16_000, { 'ztunnel-node1': 1, 'ztunnel-node2': 1 }), latency: paced(3.4, { 'ztunnel-node1': ztCpuS, 'ztunnel-node2': ztCpuS * 0.9 }) },
    nginx: { rps: wrk(12_000, { 'nginx-client-worker': 1, 'nginx-server-worker': 1 }), latency: paced(4.4, { 'nginx-client-worker': 0.5, 'nginx-server-worker': 0.45 }) },
    nodetls: withNodePair
      ? { rps: wrk(8_000, { 'node-relay-client': 1.6, 'node-relay-server': 1.6 }), latency: paced(5.4, { 'node-relay-client': 0.7, 'node-relay-server': 0.65 }) }
      : {},
  };
}

const hold: HoldResult = {
  requested: 10_000, open: 10_000, failed: 0, openSeconds: 3,
  rssMbBefore: { 'ztunnel-node1': 100, 'ztunnel-node2': 100 },
  rssMbOpen: { 'ztunnel-node1': 130, 'ztunnel-node2': 140 },
  rssSplitMb: { 'ztunnel-node1': { anon: 80, file: 50 }, 'ztunnel-node2': { anon: 90, file: 50 } },
};
const idle = { 'ztunnel-node1': 0, 'ztunnel-node2': 0 };

describe('ztunnel netns report', () => {
  it('judges the targets by the medians: rate against nginx, added p99 against direct, vCPU per 1,000 rps, RSS', () => {
    const s = summarize('full', [round(true, 0.9), round(true, 0.8), round(true, 1.0)], hold, {}, idle);
    assert.match(s.text, /PASS {2}request rate \(wrk -c64\) >= 80 % of the nginx pair: 133 %/);
    assert.match(s.text, /FAIL {2}added p99 at 1,000 rps <= 0\.5 ms \(ambit - direct\): 3\.000 ms .*nginx pair 4\.000/);
    // 0.9 CPU-s over 5 s at 1,000 rps (median of 0.8, 0.9, 1.0) is 0.18 vCPU per 1,000 rps.
    assert.match(s.text, /FAIL {2}<= 0\.1 vCPU per ztunnel per 1,000 rps: node-1 0\.180, node-2 0\.162 \(nginx workers 0\.100, 0\.090\)/);
    assert.match(s.text, /PASS {2}ztunnel RSS <= 150 MB with 10000 open connections: node-1 130 MB, node-2 140 MB/);
  });

  it('reports the Node relay pair beside the targets, as info, when it ran', () => {
    const s = summarize('full', [round(true, 0.9), round(true, 0.9)], hold, {}, idle);
    assert.match(s.text, /\| nodetls \| 8,000 \|/);
    assert.match(s.text, /smallest Node mTLS relay pair .*vCPU per 1,000 rps 0\.140, 0\.130; added p99 \+5\.000 ms; ambit's rps 2\.00x its own; CPU per request at -c64 100\.0 \/ 100\.0 us/);
    const json = s.json as { nodePair?: { addedP99Ms: { median: number } }; targets: { name: string }[] };
    assert.equal(json.nodePair?.addedP99Ms.median, 5);
    // Info only: it adds no target.
    assert.equal(json.targets.length, 4);
  });

  it('leaves the Node pair out of the table and the text when it was skipped', () => {
    const s = summarize('quick', [round(false, 0.9)], hold, {}, idle);
    assert.doesNotMatch(s.text, /nodetls|Node mTLS relay/);
    assert.equal((s.json as { nodePair?: unknown }).nodePair, undefined);
  });

  it('fails the RSS target when a held connection failed, whatever the RSS', () => {
    const s = summarize('full', [round(true, 0.9)], { ...hold, open: 9_999, failed: 1 }, {}, idle);
    assert.match(s.text, /FAIL {2}ztunnel RSS <= 150 MB/);
  });
});
