import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRoutePlan, pickWeighted, type RoutePlan } from './route-plan.js';
import { fourSigma, head, keys, seeded, tablesFor } from './route-fixtures.js';

const parent = 'parentRefs: [{group: "", kind: Service, name: echo, port: 80}]';

function plans(yaml: string, n: number, seed: number, path = '/'): RoutePlan[] {
  const { tables, warnings } = tablesFor(yaml);
  assert.deepEqual(warnings, []);
  const random = seeded(seed);
  return Array.from({ length: n }, () => buildRoutePlan(tables.get(keys.echo), { port: 80, head: head(path), random }));
}

const count = <T>(xs: readonly T[], f: (x: T) => boolean) => xs.reduce((n, x) => n + (f(x) ? 1 : 0), 0);
const n = 10_000;

describe('weighted backends (statistical, seeded)', () => {
  it('splits 90/10 within ±4σ over 10,000 plans', () => {
    const ps = plans(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: canary, namespace: demo}
spec:
  ${parent}
  rules: [{backendRefs: [{name: echo, port: 80, weight: 90}, {name: echo-v2, port: 80, weight: 10}]}]
`, n, 1);
    const v2 = count(ps, (p) => p.kind === 'forward' && p.backend.service === keys.echoV2);
    assert.ok(Math.abs(v2 - 0.1 * n) <= fourSigma(n, 0.1), `echo-v2 got ${v2} of ${n}`);
    assert.equal(count(ps, (p) => p.kind !== 'forward'), 0);
  });

  it('never picks a zero-weight backend', () => {
    const ws = [{ weight: 0, invalid: { status: 500, reason: 'x' } }, { weight: 1, backend: { service: 'a' } }, { weight: 0, backend: { service: 'b' } }];
    const random = seeded(2);
    for (let i = 0; i < 1000; i++) assert.equal(pickWeighted(ws, random), ws[1]);
    assert.equal(pickWeighted(ws, () => 0.999999), ws[1]);
    assert.equal(pickWeighted([{ weight: 0, backend: { service: 'a' } }], random), undefined);
  });

  it('gives an invalid backend\'s share of requests a 500 (Gateway API HTTPBackendRef)', () => {
    const { tables } = tablesFor(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: half, namespace: demo}
spec:
  ${parent}
  rules: [{backendRefs: [{name: echo, port: 80}, {name: ghost, port: 80}]}]
`);
    const random = seeded(4);
    const all = Array.from({ length: n }, () => buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random }));
    const failed = count(all, (p) => p.kind === 'direct' && p.status === 500);
    assert.ok(Math.abs(failed - n / 2) <= fourSigma(n, 0.5), `500s: ${failed}`);
  });
});

describe('fault and mirror percentages (statistical, seeded)', () => {
  const vs = (fault: string, mirror = '') => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: faulty, namespace: demo}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo}}]
${fault}${mirror}
`;
  it('aborts about 50 % of requests with the configured status', () => {
    const ps = plans(vs('    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}'), n, 5);
    const aborted = count(ps, (p) => p.kind === 'forward' && p.fault?.abort !== undefined && 'httpStatus' in p.fault.abort && p.fault.abort.httpStatus === 503);
    assert.ok(Math.abs(aborted - n / 2) <= fourSigma(n, 0.5), `aborted ${aborted}`);
  });

  it('delays about 10 % of requests and aborts every one when percentage is unset', () => {
    const ps = plans(vs('    fault: {delay: {fixedDelay: 2s, percentage: {value: 10}}, abort: {grpcStatus: UNAVAILABLE}}'), n, 6);
    const delayed = count(ps, (p) => p.kind === 'forward' && p.fault?.delayMs === 2000);
    assert.ok(Math.abs(delayed - n / 10) <= fourSigma(n, 0.1), `delayed ${delayed}`);
    assert.equal(count(ps, (p) => p.kind === 'forward' && p.fault?.abort !== undefined && 'grpcStatus' in p.fault.abort), n);
  });

  it('mirrors about 25 % of requests to the mirror destination', () => {
    const ps = plans(vs('', '    mirror: {host: reviews}\n    mirrorPercentage: {value: 25}'), n, 7);
    const mirrored = count(ps, (p) => p.kind === 'forward' && p.mirrors.some((m) => m.service === keys.reviews && m.port === 9080));
    assert.ok(Math.abs(mirrored - n / 4) <= fourSigma(n, 0.25), `mirrored ${mirrored}`);
  });
});

describe('default and unknown routes', () => {
  it('sends a service with no routes to itself on the request port, with Istio\'s default retries', () => {
    const { tables } = tablesFor('apiVersion: v1\nkind: Namespace\nmetadata: {name: empty}\n');
    const p = buildRoutePlan(tables.get(keys.echo), { port: 8081, head: head('/anything'), random: () => 0.5 });
    assert.equal(p.kind, 'forward');
    if (p.kind !== 'forward') return;
    assert.deepEqual(p.backend, { service: keys.echo, port: 8081 });
    assert.equal(p.route, `default/${keys.echo}`);
    assert.equal(p.retry?.attempts, 2);
    assert.equal(p.fault, undefined);
    assert.deepEqual(p.mirrors, []);
  });

  it('answers 404 for a destination it has no table for', () => {
    const p = buildRoutePlan(undefined, { port: 80, head: head('/'), random: () => 0 });
    assert.equal(p.kind === 'direct' && p.status, 404);
  });
});

describe('rate limit annotation', () => {
  const annotated = (value: string) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: limited, namespace: demo, annotations: {ambit.io/local-rate-limit: "${value}"}}
spec:
  ${parent}
  rules:
  - matches: [{path: {type: PathPrefix, value: /a}}]
    backendRefs: [{name: echo, port: 80}]
  - backendRefs: [{name: echo, port: 80}]
`;
  it('puts a token bucket with a key unique to the rule on the plan', () => {
    const { tables, warnings } = tablesFor(annotated('100/s; burst=200'));
    assert.deepEqual(warnings, []);
    const at = (path: string) => buildRoutePlan(tables.get(keys.echo), { port: 80, head: head(path), random: () => 0 }).rateLimit;
    assert.deepEqual(at('/a'), { key: 'HTTPRoute/demo/limited/rules[0]', tokensPerFill: 100, fillIntervalMs: 1000, maxTokens: 200 });
    assert.equal(at('/b')?.key, 'HTTPRoute/demo/limited/rules[1]');
  });

  it('warns about a bad value and applies no limit', () => {
    const { tables, warnings } = tablesFor(annotated('lots'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]?.reason ?? '', /not a rate limit.*no rate limit applied/);
    assert.equal(warnings[0]?.path, 'metadata.annotations.ambit.io/local-rate-limit');
    assert.equal(buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/a'), random: () => 0 }).rateLimit, undefined);
  });
});
