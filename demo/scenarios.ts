// The demo's scenarios: which example file each step writes into the watched folder, what
// traffic it sends, and the verdict measured traffic must meet. The judges are pure deciders
// over a TrafficSummary (demo/traffic-stats.ts), so they are unit-tested without a mesh.
import { countOf, shareOf, type TrafficSummary } from './traffic-stats.js';

export interface Verdict {
  readonly ok: boolean;
  readonly text: string;
}

export interface Step {
  readonly label: string;
  /** Example file (examples/demo/) to write as the scenario's file before this step. */
  readonly apply?: string;
  /** Whose config version to wait for after `apply`: the waypoint (L7) or node-1's ztunnel (L4). */
  readonly appliedAt?: 'waypoint' | 'node-1';
  /** Who sends: the mesh client to the echo Service, or the outsider straight to echo-v1's pod IP. */
  readonly from: 'client' | 'outsider';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly rps: number;
  readonly maxInFlight?: number;
  readonly judge: (s: TrafficSummary) => Verdict;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly steps: readonly Step[];
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** ±4 standard deviations of a binomial share over `n` requests, and never under 5 points. */
export function shareTolerance(p: number, n: number): number {
  return n === 0 ? 0 : Math.max(0.05, 4 * Math.sqrt((p * (1 - p)) / n));
}

/** v2's share is `expected` within shareTolerance, and every request succeeded. */
export function judgeSplit(s: TrafficSummary, expected: number): Verdict {
  const share = shareOf(s, 'echo-v2');
  const tol = shareTolerance(expected, s.requests);
  const ok = s.requests > 0 && Math.abs(share - expected) <= tol && countOf(s, 200) === s.requests;
  return { ok, text: `v2 got ${pct(share)} of ${s.requests} (expected ${pct(expected)} ± ${pct(tol)}), ${countOf(s, 200)}/${s.requests} answered 200` };
}

/** Every request answered 200 by `pod`. */
export function judgeAllTo(s: TrafficSummary, pod: string): Verdict {
  const n = s.edges[pod]?.statuses['200'] ?? 0;
  return { ok: s.requests > 0 && n === s.requests, text: `${n}/${s.requests} answered 200 by ${pod}` };
}

/** Every request got `status` from the mesh, none reached a backend. */
export function judgeAllStatus(s: TrafficSummary, status: number, maxP99Ms = Infinity): Verdict {
  const n = countOf(s, status);
  const reached = (s.edges['echo-v1']?.requests ?? 0) + (s.edges['echo-v2']?.requests ?? 0);
  const fast = s.p99Ms <= maxP99Ms;
  const ok = s.requests > 0 && n === s.requests && (status !== 403 || reached === 0) && fast;
  const timing = Number.isFinite(maxP99Ms) ? `, p99 ${s.p99Ms.toFixed(0)} ms (limit ${maxP99Ms} ms)` : '';
  return { ok, text: `${n}/${s.requests} got ${status}${status === 403 ? `, ${reached} reached a backend` : ''}${timing}` };
}

/** About `expected` of the requests got `status`, the rest 200. */
export function judgeShareStatus(s: TrafficSummary, status: number, expected: number): Verdict {
  const share = s.requests === 0 ? 0 : countOf(s, status) / s.requests;
  const tol = shareTolerance(expected, s.requests);
  const ok = s.requests > 0 && Math.abs(share - expected) <= tol && countOf(s, status) + countOf(s, 200) === s.requests;
  return { ok, text: `${pct(share)} of ${s.requests} got an injected ${status} (expected ${pct(expected)} ± ${pct(tol)}), the rest 200` };
}

/** Every request answered 200, none faster than the injected 200 ms delay. */
export function judgeDelayed(s: TrafficSummary): Verdict {
  const ok = s.requests > 0 && countOf(s, 200) === s.requests && s.p50Ms >= 200;
  return { ok, text: `${countOf(s, 200)}/${s.requests} answered 200 after an injected delay: p50 ${s.p50Ms.toFixed(0)} ms (≥ 200 ms)` };
}

/** At least `min` of the requests answered 2xx. */
export function judgeSuccess(s: TrafficSummary, min: number, what: string): Verdict {
  return { ok: s.requests > 0 && s.successRate >= min, text: `${pct(s.successRate)} of ${s.requests} ${what} succeeded (need ≥ ${pct(min)})` };
}

/** No request got an answer: the connections were refused or reset. */
export function judgeRefused(s: TrafficSummary): Verdict {
  const failed = countOf(s, 'error');
  return { ok: s.requests > 0 && failed === s.requests, text: `${failed}/${s.requests} plaintext requests refused (${Object.keys(s.errors).join(', ') || 'none failed'})` };
}

export const scenarios: readonly Scenario[] = [
  {
    name: 'canary',
    title: 'canary release: 90/10, then 50/50 (VirtualService weights)',
    steps: [
      { label: '90/10', apply: 'canary-90-10.yaml', from: 'client', path: '/', rps: 100, judge: (s) => judgeSplit(s, 0.1) },
      { label: '50/50', apply: 'canary-50-50.yaml', from: 'client', path: '/', rps: 100, judge: (s) => judgeSplit(s, 0.5) },
    ],
  },
  {
    name: 'header-routing',
    title: 'header routing: x-canary: v2 goes to v2, the rest to v1',
    steps: [
      { label: 'x-canary: v2', apply: 'header-routing.yaml', from: 'client', path: '/', headers: { 'x-canary': 'v2' }, rps: 50, judge: (s) => judgeAllTo(s, 'echo-v2') },
      { label: 'no header', from: 'client', path: '/', rps: 50, judge: (s) => judgeAllTo(s, 'echo-v1') },
    ],
  },
  {
    name: 'denied',
    title: 'a denied call: AuthorizationPolicy DENY on /admin at the waypoint',
    steps: [
      { label: '/admin', apply: 'deny-admin.yaml', from: 'client', path: '/admin/users', rps: 50, judge: (s) => judgeAllStatus(s, 403) },
      { label: '/orders', from: 'client', path: '/orders', rps: 50, judge: (s) => judgeSuccess(s, 1, 'other requests') },
    ],
  },
  {
    name: 'fault',
    title: 'fault injection with retries and timeouts',
    steps: [
      { label: 'abort 50%', apply: 'fault.yaml', from: 'client', path: '/abort', rps: 100, judge: (s) => judgeShareStatus(s, 503, 0.5) },
      { label: 'delay 200ms', from: 'client', path: '/delay', rps: 50, judge: judgeDelayed },
      { label: 'slow backend, timeout 300ms', from: 'client', path: '/slow?delay-ms=2000', rps: 20, judge: (s) => judgeAllStatus(s, 504, 1000) },
      { label: 'flaky backends, 3 retries', from: 'client', path: '/flaky?fail-every=2', rps: 50, maxInFlight: 1, judge: (s) => judgeSuccess(s, 1, 'requests to backends failing every other request') },
    ],
  },
  {
    name: 'strict',
    title: 'STRICT PeerAuthentication: plaintext from outside the mesh is refused',
    steps: [
      { label: 'PERMISSIVE, outsider', from: 'outsider', path: '/', rps: 20, judge: (s) => judgeSuccess(s, 1, 'plaintext requests (allowed before STRICT)') },
      { label: 'STRICT, outsider', apply: 'strict.yaml', appliedAt: 'node-1', from: 'outsider', path: '/', rps: 20, judge: judgeRefused },
      { label: 'STRICT, mesh client', from: 'client', path: '/', rps: 50, judge: (s) => judgeSuccess(s, 1, 'mTLS requests') },
    ],
  },
];
