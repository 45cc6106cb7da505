import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRoutePlan, type RoutePlan } from './route-plan.js';
import { head, keys, tablesFor } from './route-fixtures.js';

const route = (name: string, rules: string, extra = '') => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: demo${extra}}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
${rules}
---`;

const to = (svc: string) => `backendRefs: [{name: ${svc}, port: 80}]`;
const noRandom = () => 0;

function plan(yaml: string, path: string, opts: Parameters<typeof head>[1] & { port?: number; sourceNamespace?: string } = {}): RoutePlan {
  const { tables } = tablesFor(yaml);
  return buildRoutePlan(tables.get(keys.echo), { port: opts.port ?? 80, head: head(path, opts), random: noRandom, ...(opts.sourceNamespace ? { sourceNamespace: opts.sourceNamespace } : {}) });
}

function service(p: RoutePlan): string {
  return p.kind === 'forward' ? p.backend.service : `${p.kind}:${p.kind === 'direct' ? p.status : p.location}`;
}

describe('HTTPRoute matching (GAMMA)', () => {
  const yaml = route('match', `
  - matches: [{path: {type: Exact, value: /exact}}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    ${to('echo-v2')}
  - matches: [{path: {type: RegularExpression, value: "/re/[0-9]+"}}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /h}, headers: [{name: X-Version, value: two}, {type: RegularExpression, name: x-re, value: "a+b"}]}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /q}, queryParams: [{name: v, value: "2"}]}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /m}, method: POST}]
    ${to('echo-v2')}
  - ${to('echo')}`);
  const cases: [string, string, Parameters<typeof head>[1], string][] = [
    ['an Exact path', '/exact', {}, keys.echoV2],
    ['not a longer path for an Exact match', '/exact/more', {}, keys.echo],
    ['a PathPrefix by whole elements', '/v2/items?x=1', {}, keys.echoV2],
    ['not a PathPrefix that only shares characters', '/v2items', {}, keys.echo],
    ['a RegularExpression against the whole path', '/re/42', {}, keys.echoV2],
    ['not a RegularExpression that matches part of the path', '/re/42/x', {}, keys.echo],
    ['headers with case-insensitive names, Exact and RegularExpression values', '/h', { headers: [['x-version', 'two'], ['x-re', 'aaab']] }, keys.echoV2],
    ['not when one of the headers differs', '/h', { headers: [['x-version', 'two'], ['x-re', 'abc']] }, keys.echo],
    ['a query parameter', '/q?v=2', {}, keys.echoV2],
    ['not a different query value', '/q?v=3', {}, keys.echo],
    ['a method', '/m', { method: 'POST' }, keys.echoV2],
    ['not another method', '/m', { method: 'GET' }, keys.echo],
  ];
  for (const [what, path, opts, want] of cases) {
    it(`routes ${what}`, () => assert.equal(service(plan(yaml, path, opts)), want));
  }

  it('matches a rule when any of its matches matches', () => {
    const y = route('any', `
  - matches: [{path: {type: Exact, value: /a}}, {headers: [{name: x-b, value: "1"}]}]
    ${to('echo-v2')}`);
    assert.equal(service(plan(y, '/a')), keys.echoV2);
    assert.equal(service(plan(y, '/zzz', { headers: [['x-b', '1']] })), keys.echoV2);
    assert.equal(service(plan(y, '/zzz')), 'direct:404');
  });
});

describe('HTTPRoute precedence across rules and routes', () => {
  it('prefers Exact, then the longest prefix, then method, then most headers, then most query params', () => {
    const y = route('prec', `
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRefs: [{name: reviews, port: 9080}]
  - matches: [{path: {type: PathPrefix, value: /a}, queryParams: [{name: q, value: "1"}]}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /a}, headers: [{name: h, value: "1"}]}]
    backendRefs: [{name: echo, port: 8081}]
  - matches: [{path: {type: PathPrefix, value: /a}, method: GET}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /a/b}}]
    backendRefs: [{name: ratings, namespace: other, port: 9080}]
  - matches: [{path: {type: Exact, value: /a/b/c}}]
    backendRefs: [{name: echo, port: 80}]`);
    const p = (path: string, o: Parameters<typeof head>[1] = {}) => {
      const r = plan(y, path, o);
      return r.kind === 'forward' ? `${r.backend.service}:${r.backend.port}` : r.kind;
    };
    assert.equal(p('/a/b/c', { method: 'GET', headers: [['h', '1']] }), `${keys.echo}:80`);
    assert.equal(p('/a/b/x', { method: 'GET', headers: [['h', '1']] }), `${keys.ratings}:9080`);
    assert.equal(p('/a?q=1', { method: 'GET', headers: [['h', '1']] }), `${keys.echoV2}:80`);
    assert.equal(p('/a?q=1', { method: 'PUT', headers: [['h', '1']] }), `${keys.echo}:8081`);
    assert.equal(p('/a?q=1', { method: 'PUT' }), `${keys.echo}:80`);
    assert.equal(p('/zzz'), `${keys.reviews}:9080`);
  });

  it('breaks a tie by namespace/name, then by rule order, since Ambit has no creation timestamps', () => {
    const y = route('b-route', `
  - matches: [{path: {type: PathPrefix, value: /x}}]
    ${to('echo')}`) + route('a-route', `
  - matches: [{path: {type: PathPrefix, value: /x}}]
    ${to('echo-v2')}
  - matches: [{path: {type: PathPrefix, value: /x}}]
    ${to('echo')}`);
    const r = plan(y, '/x');
    assert.equal(service(r), keys.echoV2);
    assert.equal(r.kind === 'forward' && r.route, 'HTTPRoute/demo/a-route/0');
  });

  it('answers 404 when routes exist but none matches', () => {
    const r = plan(route('only', `
  - matches: [{path: {type: Exact, value: /only}}]
    ${to('echo')}`), '/other');
    assert.equal(r.kind, 'direct');
    assert.equal(r.kind === 'direct' && r.status, 404);
  });
});

describe('HTTPRoute attachment', () => {
  it('limits a route with a parentRef port to that service port (MeshPorts)', () => {
    const y = route('ported', `
  - ${to('echo-v2')}`);
    assert.equal(service(plan(y, '/', { port: 80 })), keys.echoV2);
    assert.equal(service(plan(y, '/', { port: 8081 })), 'direct:404');
  });

  it('applies a consumer route only to clients from its own namespace (MeshConsumerRoute)', () => {
    const y = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: consumer, namespace: other}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, namespace: demo}]
  rules: [{backendRefs: [{name: echo-v2, namespace: demo, port: 80}], filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-route, value: consumer}]}}]}]
`;
    assert.equal(service(plan(y, '/', { sourceNamespace: 'other' })), keys.echoV2);
    assert.equal(service(plan(y, '/', { sourceNamespace: 'demo' })), keys.echo);
    assert.equal(service(plan(y, '/')), keys.echo);
  });

  it('warns about a parentRef to a Service that is not in the model and ignores it', () => {
    const { warnings, tables } = tablesFor(`
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: lost, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: nowhere}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
`);
    assert.match(warnings.map((w) => w.reason).join('\n'), /nowhere is not in the mesh model/);
    assert.equal(tables.get(keys.echo)?.source, 'default');
  });
});

describe('HTTPRoute backends', () => {
  it('answers 500 when every backendRef has weight 0', () => {
    const r = plan(route('zero', `
  - backendRefs: [{name: echo, port: 80, weight: 0}, {name: echo-v2, port: 80, weight: 0}]`), '/');
    assert.deepEqual(r.kind === 'direct' && [r.status, r.reason], [500, 'every backend has weight 0']);
  });

  it('answers 500 for a backendRef that does not resolve, and warns', () => {
    const { tables, warnings } = tablesFor(route('missing', `
  - backendRefs: [{name: ghost, port: 80}]`));
    const r = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random: noRandom });
    assert.equal(r.kind === 'direct' && r.status, 500);
    assert.match(warnings.map((w) => w.reason).join('\n'), /ghost is not in the mesh model/);
  });

  it('carries header modifiers, timeouts, retries and mirrors into the plan', () => {
    const r = plan(route('full', `
  - filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: "1"}], add: [{name: x-b, value: "2"}], remove: [x-c]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-route, value: full}]}}
    - {type: RequestMirror, requestMirror: {backendRef: {name: reviews, port: 9080}}}
    timeouts: {request: 10s, backendRequest: 2s}
    retry: {codes: [503, 502], attempts: 3, backoff: 100ms}
    ${to('echo')}`), '/');
    assert.equal(r.kind, 'forward');
    if (r.kind !== 'forward') return;
    assert.deepEqual(r.requestHeaderOps, { set: [['x-a', '1']], add: [['x-b', '2']], remove: ['x-c'] });
    assert.deepEqual(r.responseHeaderOps.set, [['x-route', 'full']]);
    assert.deepEqual(r.mirrors.map((m) => `${m.service}:${m.port}`), [`${keys.reviews}:9080`]);
    assert.equal(r.timeoutMs, 10_000);
    assert.equal(r.perTryTimeoutMs, 2000);
    assert.deepEqual(r.retry, { attempts: 3, retryOn: ['connect-failure', 'refused-stream', 'reset', 'retriable-status-codes'], retriableStatusCodes: [503, 502], backoffBaseMs: 100, backoffMaxMs: 1000 });
  });

  it('skips a rule whose regex does not compile, warns, and keeps the other rules', () => {
    const { tables, warnings } = tablesFor(route('badre', `
  - matches: [{path: {type: RegularExpression, value: "/a(b"}}]
    ${to('echo-v2')}
  - ${to('echo')}`));
    assert.match(warnings.map((w) => `${w.path}: ${w.reason}`).join('\n'), /spec\.rules\[0\]\.matches\[0\]: regex .* does not compile.*rule skipped/);
    const r = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/ab'), random: noRandom });
    assert.equal(service(r), keys.echo);
  });
});
