import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Workload } from '../../shared/config/model.js';
import { ActiveRequests } from './active-requests.js';
import { EndpointPicker, eligibleEndpoints, upstreamClusterKey, type PickInput, type PickResult } from './endpoint-picker.js';
import { hashContextFromHead } from './hash-key.js';
import { seededRandom } from '../../shared/seeded-random.js';

const svc = 'default/reviews.default.svc.cluster.local';

function workload(name: string, opts: { labels?: Record<string, string>; status?: 'HEALTHY' | 'UNHEALTHY'; port?: number; ip?: string } = {}): Workload {
  return {
    uid: `Kubernetes//Pod/default/${name}`, name, namespace: 'default', addresses: opts.ip === '' ? [] : [opts.ip ?? `10.0.0.${name.length}`],
    trustDomain: 'cluster.local', serviceAccount: 'reviews', tunnelProtocol: 'HBONE', status: opts.status ?? 'HEALTHY',
    networkMode: 'STANDARD', labels: opts.labels ?? {}, canonicalName: 'reviews', canonicalRevision: 'v1',
    services: { [svc]: [{ servicePort: 9080, targetPort: opts.port ?? 8080 }] }, authorizationPolicies: [],
  };
}

const pods = (n: number) => Array.from({ length: n }, (_, i) => workload(`r${i}`));
const base = (endpoints: Workload[], extra: Partial<PickInput> = {}): PickInput => ({ serviceKey: svc, servicePort: 9080, endpoints, ...extra });

function name(r: PickResult): string {
  assert.equal(r.ok, true, JSON.stringify(r));
  return (r as Extract<PickResult, { ok: true }>).endpoint.workload.name;
}

function tally(n: number, draw: () => string): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = draw();
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

const ejected = (keys: string[], minHealthPercent = 0) => ({ isEjected: (k: string) => keys.includes(k), minHealthPercent });

describe('eligibleEndpoints', () => {
  it('keeps healthy workloads with a mapping for the port and the subset labels, resolving the target port', () => {
    const list = [
      workload('a', { labels: { version: 'v1' }, port: 8081 }),
      workload('b', { labels: { version: 'v2' } }),
      workload('c', { labels: { version: 'v1' }, status: 'UNHEALTHY' }),
      workload('d', { labels: { version: 'v1' }, ip: '' }),
    ];
    const got = eligibleEndpoints({ serviceKey: svc, servicePort: 9080, endpoints: list, subset: { name: 'v1', labels: { version: 'v1' } } });
    assert.deepEqual(got.map((e) => [e.workload.name, e.address, e.targetPort]), [['a', '10.0.0.1', 8081]]);
    assert.deepEqual(eligibleEndpoints({ serviceKey: svc, servicePort: 9999, endpoints: list }), []);
  });
});

describe('EndpointPicker', () => {
  it('answers no_healthy_upstream with flag UH when no endpoint can serve', () => {
    const picker = new EndpointPicker();
    assert.deepEqual(picker.pick(base([workload('a', { status: 'UNHEALTHY' })])), { ok: false, reason: 'no_healthy_upstream', responseFlag: 'UH' });
    assert.equal(picker.pick(base([])).ok, false);
  });

  it('round-robins by default, with one cursor per service, port and subset', () => {
    const picker = new EndpointPicker();
    const list = [workload('a', { labels: { v: '1' } }), workload('b', { labels: { v: '1' } }), workload('c', { labels: { v: '2' } })];
    const all = Array.from({ length: 6 }, () => name(picker.pick(base(list))));
    assert.deepEqual(all, ['a', 'b', 'c', 'a', 'b', 'c']);
    const v1 = { name: 'v1', labels: { v: '1' } };
    assert.deepEqual(Array.from({ length: 3 }, () => name(picker.pick(base(list, { subset: v1 })))), ['a', 'b', 'a']);
    assert.equal(upstreamClusterKey(svc, 9080, 'v1'), `outbound|9080|v1|${svc}`);
  });

  it('spreads RANDOM evenly (each of 3 hosts within 2 % of a third over 30 000 picks)', () => {
    const picker = new EndpointPicker({ random: seededRandom(5) });
    const counts = tally(30_000, () => name(picker.pick(base(pods(3), { loadBalancer: { simple: 'RANDOM' } }))));
    for (const [k, c] of counts) assert.ok(Math.abs(c / 30_000 - 1 / 3) < 0.02, `${k}: ${c}`);
  });

  it('favours the least loaded host under LEAST_REQUEST as two random choices do (5/9 for 1 idle host of 3)', () => {
    const picker = new EndpointPicker({ random: seededRandom(9) });
    const active = new ActiveRequests();
    for (const n of ['r1', 'r2']) for (let i = 0; i < 10; i++) active.start(`Kubernetes//Pod/default/${n}`);
    const counts = tally(18_000, () => name(picker.pick(base(pods(3), { loadBalancer: { simple: 'LEAST_REQUEST' }, activeRequests: active.count }))));
    const idle = (counts.get('r0') ?? 0) / 18_000;
    assert.ok(Math.abs(idle - 5 / 9) < 0.02, `idle share ${idle}`);
    assert.ok((counts.get('r1') ?? 0) > 0 && (counts.get('r2') ?? 0) > 0, 'busy hosts still get some traffic');
  });

  it('sends the same header value to the same endpoint and different values across endpoints', () => {
    const picker = new EndpointPicker({ random: seededRandom(1) });
    const lb = { consistentHash: { httpHeaderName: 'x-user' } } as const;
    const pickFor = (user: string) => name(picker.pick(base(pods(5), { loadBalancer: lb, request: hashContextFromHead({ path: '/', headers: [['x-user', user]] }) })));
    for (const user of ['ann', 'bob', 'cy']) {
      const first = pickFor(user);
      for (let i = 0; i < 50; i++) assert.equal(pickFor(user), first);
    }
    const spread = new Set(Array.from({ length: 200 }, (_, i) => pickFor(`user-${i}`)));
    assert.equal(spread.size, 5);
  });

  it('falls back to a random endpoint when the request has no hash key', () => {
    const picker = new EndpointPicker({ random: seededRandom(2) });
    const lb = { consistentHash: { httpCookie: { name: 'session', ttlMs: 0 } } } as const;
    const seen = new Set(Array.from({ length: 200 }, () => name(picker.pick(base(pods(4), { loadBalancer: lb, request: hashContextFromHead({ path: '/', headers: [] }) })))));
    assert.equal(seen.size, 4);
    assert.equal(picker.pick(base(pods(4), { loadBalancer: lb })).ok, true, 'no request context at all');
  });

  it('hashes on source IP and query parameter too', () => {
    const picker = new EndpointPicker();
    const byIp = (ip: string) => name(picker.pick(base(pods(6), { loadBalancer: { consistentHash: { useSourceIp: true } }, request: hashContextFromHead({ path: '/', headers: [] }, ip) })));
    assert.equal(byIp('10.1.1.1'), byIp('10.1.1.1'));
    const byQuery = (q: string) => name(picker.pick(base(pods(6), { loadBalancer: { consistentHash: { httpQueryParameterName: 'u' } }, request: hashContextFromHead({ path: `/x?u=${q}`, headers: [] }) })));
    assert.equal(byQuery('7'), byQuery('7'));
  });

  it('moves only the keys of a removed endpoint (about 1/N) when the endpoint set shrinks', () => {
    const picker = new EndpointPicker();
    const lb = { consistentHash: { httpHeaderName: 'x-user' } } as const;
    const all = pods(8);
    const ownerOf = (list: Workload[], user: string) => name(picker.pick(base(list, { loadBalancer: lb, request: hashContextFromHead({ path: '/', headers: [['x-user', user]] }) })));
    const users = Array.from({ length: 4000 }, (_, i) => `u${i}`);
    const before = users.map((u) => ownerOf(all, u));
    const after = users.map((u) => ownerOf(all.filter((w) => w.name !== 'r5'), u));
    let moved = 0;
    before.forEach((o, i) => {
      if (o === 'r5') moved++;
      else assert.equal(after[i], o);
    });
    assert.ok(moved / users.length > 0.07 && moved / users.length < 0.18, `moved ${moved}`);
  });

  it('skips ejected hosts, and answers UH when all are ejected and minHealthPercent is 0', () => {
    const picker = new EndpointPicker();
    const list = pods(3);
    const keys = list.map((w) => w.uid);
    const seen = new Set(Array.from({ length: 6 }, () => name(picker.pick(base(list, { outlier: ejected([keys[1]!]) })))));
    assert.deepEqual([...seen].sort(), ['r0', 'r2']);
    assert.equal(picker.pick(base(list, { outlier: ejected(keys) })).ok, false);
  });

  it('panics below minHealthPercent and balances over every host, ejected ones included', () => {
    const picker = new EndpointPicker();
    const list = pods(3);
    const keys = list.map((w) => w.uid);
    const r = picker.pick(base(list, { outlier: ejected([keys[0]!, keys[1]!], 50) }));
    assert.equal(r.ok && r.panic, true);
    const seen = new Set(Array.from({ length: 3 }, () => name(picker.pick(base(list, { outlier: ejected([keys[0]!, keys[1]!], 50) })))));
    assert.equal(seen.size, 3);
    const calm = picker.pick(base(list, { outlier: ejected([keys[0]!], 50) }));
    assert.equal(calm.ok && calm.panic, false, '2 of 3 healthy is above 50 %');
  });

  it('avoids hosts of earlier attempts while others remain, for every policy', () => {
    const list = pods(3);
    const tried = new Set([list[0]!.uid, list[1]!.uid]);
    for (const loadBalancer of [undefined, { simple: 'RANDOM' }, { simple: 'LEAST_REQUEST' }, { consistentHash: { httpHeaderName: 'x-user' } }] as const) {
      const picker = new EndpointPicker({ random: seededRandom(4) });
      const request = hashContextFromHead({ path: '/', headers: [['x-user', 'ann']] });
      for (let i = 0; i < 20; i++) assert.equal(name(picker.pick(base(list, { loadBalancer, request, avoid: tried }))), 'r2', JSON.stringify(loadBalancer));
    }
    const only = new EndpointPicker();
    assert.equal(name(only.pick(base([list[0]!], { avoid: new Set([list[0]!.uid]) }))), 'r0', 'the only host is tried again');
  });
});

describe('ActiveRequests', () => {
  it('counts in-flight requests per endpoint and ignores a second release', () => {
    const active = new ActiveRequests();
    const a = active.start('x');
    active.start('x');
    assert.equal(active.count('x'), 2);
    a.release();
    a.release();
    assert.equal(active.count('x'), 1);
    assert.equal(active.count('y'), 0);
  });
});
