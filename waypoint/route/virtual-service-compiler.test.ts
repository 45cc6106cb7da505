import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRoutePlan, type RoutePlan } from './route-plan.js';
import { head, keys, tablesFor } from './route-fixtures.js';

const vs = (name: string, body: string, hosts = '[echo]', ns = 'demo', extra = '') => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}${extra}}
spec:
  hosts: ${hosts}
  http:
${body}
---`;

const dr = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: demo}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}, outlierDetection: {consecutive5xxErrors: 3}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---`;

function planOf(yaml: string, path: string, opts: Parameters<typeof head>[1] & { port?: number; key?: string; sourceLabels?: Record<string, string> } = {}): RoutePlan {
  const { tables } = tablesFor(yaml);
  return buildRoutePlan(tables.get(opts.key ?? keys.echo), { port: opts.port ?? 80, head: head(path, opts), random: () => 0, ...(opts.sourceLabels ? { sourceLabels: opts.sourceLabels } : {}) });
}

const target = (p: RoutePlan) => (p.kind === 'forward' ? `${p.backend.service}${p.backend.subset ? `#${p.backend.subset}` : ''}` : `${p.kind}:${p.kind === 'direct' ? p.status : p.location}`);

describe('VirtualService matching', () => {
  const yaml = dr + vs('echo', `
  - name: exact
    match: [{uri: {exact: /exact}}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{uri: {prefix: /v2}}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{uri: {regex: "/re/[0-9]+"}}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{headers: {X-User: {exact: jason}}, queryParams: {debug: {exact: "1"}}}, {method: {exact: DELETE}}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{uri: {prefix: /CaSe}, ignoreUriCase: true}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{port: 8081}]
    route: [{destination: {host: reviews}}]
  - match: [{sourceLabels: {app: web}}]
    route: [{destination: {host: echo-v2}}]
  - route: [{destination: {host: echo, subset: v1}}]`);
  const cases: [string, string, Parameters<typeof planOf>[2], string][] = [
    ['an exact uri', '/exact', {}, `${keys.echo}#v2`],
    ['a uri prefix as a plain string prefix', '/v2items', {}, `${keys.echo}#v2`],
    ['a uri regex against the whole path', '/re/7', {}, `${keys.echo}#v2`],
    ['headers (case-insensitive names) and query params together', '/x?debug=1', { headers: [['x-user', 'jason']] }, `${keys.echo}#v2`],
    ['a method in a second match', '/x', { method: 'DELETE' }, `${keys.echo}#v2`],
    ['a prefix with ignoreUriCase', '/case/x', {}, `${keys.echo}#v2`],
    ['the port', '/x', { port: 8081 }, keys.reviews],
    ['the client workload labels', '/x', { sourceLabels: { app: 'web' } }, keys.echoV2],
    ['everything else to the catch-all, in order', '/x?debug=1', { headers: [['x-user', 'other']] }, `${keys.echo}#v1`],
  ];
  for (const [what, path, opts, want] of cases) it(`routes by ${what}`, () => assert.equal(target(planOf(yaml, path, opts)), want));

  it('takes the first matching route in order, not the most specific', () => {
    const y = vs('ordered', `
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: reviews}}]
  - match: [{uri: {exact: /exact}}]
    route: [{destination: {host: echo-v2}}]`);
    assert.equal(target(planOf(y, '/exact')), keys.reviews);
  });

  it('answers 404 when no route matches', () => {
    assert.equal(target(planOf(vs('narrow', `
  - match: [{uri: {exact: /only}}]
    route: [{destination: {host: echo}}]`), '/x')), 'direct:404');
  });

  it('skips a route whose regex does not compile, warns, and keeps the others', () => {
    const { tables, warnings } = tablesFor(vs('badre', `
  - match:
    - headers:
        x: {regex: "a(("}
    route: [{destination: {host: echo-v2}}]
  - route: [{destination: {host: echo}}]`));
    assert.match(warnings.map((w) => `${w.path}: ${w.reason}`).join('\n'), /spec\.http\[0\]: match\[0\]: regex .* does not compile.*route skipped/);
    assert.equal(target(buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/', { headers: [['x', 'a']] }), random: () => 0 })), keys.echo);
  });
});

describe('VirtualService hosts', () => {
  for (const host of ['echo', 'echo.demo', 'echo.demo.svc', 'echo.demo.svc.cluster.local', '10.96.0.10', '"*.demo.svc.cluster.local"']) {
    it(`applies to the echo Service when hosts names it as ${host}`, () => {
      const { tables } = tablesFor(vs('h', '  - route: [{destination: {host: reviews}}]', `[${host}]`));
      assert.equal(tables.get(keys.echo)?.source, 'VirtualService');
    });
  }
  it('resolves a short host in the VirtualService\'s own namespace', () => {
    const { tables } = tablesFor(vs('h', '  - route: [{destination: {host: echo.demo}}]', '[ratings]', 'other'));
    assert.equal(tables.get(keys.ratings)?.source, 'VirtualService');
    assert.equal(tables.get(keys.echo)?.source, 'default');
  });
  it('ignores a VirtualService bound only to an ingress gateway', () => {
    const { tables } = tablesFor(vs('gw', '  - route: [{destination: {host: reviews}}]', '[echo]', 'demo').replace('  http:', '  gateways: [ingress]\n  http:'));
    assert.equal(tables.get(keys.echo)?.source, 'default');
  });
  it('prefers an exact host over a wildcard and warns about the one it ignores', () => {
    const y = vs('wild', '  - route: [{destination: {host: reviews}}]', '["*.demo.svc.cluster.local"]') + vs('exact', '  - route: [{destination: {host: echo-v2}}]');
    const { tables, warnings } = tablesFor(y);
    assert.equal(target(buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random: () => 0 })), keys.echoV2);
    assert.match(warnings.map((w) => `${w.name}: ${w.reason}`).join('\n'), /wild: ignored for demo\/echo.* demo\/exact/);
  });
});

describe('VirtualService and HTTPRoute for the same Service', () => {
  it('lets the HTTPRoute win and warns naming both', () => {
    const y = vs('echo-vs', '  - route: [{destination: {host: reviews}}]') + `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: echo-route, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo}]
  rules: [{backendRefs: [{name: echo-v2, port: 80}]}]
`;
    const { tables, warnings } = tablesFor(y);
    assert.equal(tables.get(keys.echo)?.source, 'HTTPRoute');
    assert.equal(target(buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random: () => 0 })), keys.echoV2);
    const w = warnings.find((x) => x.kind === 'VirtualService');
    assert.equal(w?.name, 'echo-vs');
    assert.match(w?.reason ?? '', /HTTPRoute demo\/echo-route .* wins over a VirtualService/);
  });
});

describe('VirtualService destinations and DestinationRules', () => {
  it('attaches subset labels and the subset policy merged over the top-level one', () => {
    const p = planOf(dr + vs('echo', '  - route: [{destination: {host: echo, subset: v2, port: {number: 80}}}]'), '/');
    assert.equal(p.kind, 'forward');
    if (p.kind !== 'forward') return;
    assert.deepEqual(p.backend, {
      service: keys.echo, port: 80, subset: 'v2', labels: { version: 'v2' },
      trafficPolicy: { loadBalancer: { simple: 'RANDOM' }, outlierDetection: { consecutive5xxErrors: 3 } },
    });
  });
  it('answers 503 for a subset no DestinationRule defines, and warns', () => {
    const { tables, warnings } = tablesFor(dr + vs('echo', '  - route: [{destination: {host: echo, subset: v9}}]'));
    const p = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random: () => 0 });
    assert.equal(p.kind === 'direct' && p.status, 503);
    assert.match(warnings.map((w) => w.reason).join('\n'), /subset "v9" is not defined/);
  });
  it('uses the request port when the destination has several ports and names none', () => {
    const p = planOf(vs('echo', '  - route: [{destination: {host: echo}}]'), '/', { port: 8081 });
    assert.equal(p.kind === 'forward' && p.backend.port, 8081);
  });
});

describe('VirtualService actions', () => {
  it('carries retries, timeout and headers (route then destination) into the plan', () => {
    const p = planOf(vs('echo', `
  - route:
    - destination: {host: echo}
      headers: {request: {set: {x-dest: d}}, response: {remove: [x-internal]}}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset,503,retriable-4xx"}
    timeout: 10s
    headers: {request: {set: {X-Route: r}, add: {x-add: a}, remove: [x-drop]}}`), '/');
    assert.equal(p.kind, 'forward');
    if (p.kind !== 'forward') return;
    assert.deepEqual(p.retry, { attempts: 3, retryOn: ['5xx', 'reset', 'retriable-4xx', 'retriable-status-codes'], retriableStatusCodes: [503], backoffBaseMs: 25, backoffMaxMs: 250 });
    assert.equal(p.perTryTimeoutMs, 2000);
    assert.equal(p.timeoutMs, 10_000);
    assert.deepEqual(p.requestHeaderOps, { set: [['x-route', 'r'], ['x-dest', 'd']], add: [['x-add', 'a']], remove: ['x-drop'] });
    assert.deepEqual(p.responseHeaderOps.remove, ['x-internal']);
  });
  it('gives each http route its own rate-limit bucket from the annotation', () => {
    const y = vs('limited', `
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: echo}}]
  - route: [{destination: {host: echo}}]`, '[echo]', 'demo', ', annotations: {ambit.io/local-rate-limit: "6000/m"}');
    assert.deepEqual(planOf(y, '/a').rateLimit, { key: 'VirtualService/demo/limited/http[0]', tokensPerFill: 6000, fillIntervalMs: 60_000, maxTokens: 6000 });
    assert.equal(planOf(y, '/b').rateLimit?.key, 'VirtualService/demo/limited/http[1]');
  });
  it('disables retries with attempts 0', () => {
    const p = planOf(vs('echo', '  - route: [{destination: {host: echo}}]\n    retries: {attempts: 0}'), '/');
    assert.equal(p.kind === 'forward' && p.retry, undefined);
  });
  it('redirects with Istio\'s default 301, replacing the whole path and keeping the query', () => {
    const p = planOf(vs('echo', '  - match: [{uri: {prefix: /old}}]\n    redirect: {uri: /new, authority: example.org}'), '/old/x?q=1');
    assert.deepEqual(p.kind === 'redirect' && [p.status, p.location], [301, 'http://example.org/new?q=1']);
  });
  it('rewrites the matched prefix as a plain string, and the whole path after an exact match', () => {
    const y = vs('echo', `
  - match: [{uri: {prefix: /api/v1}}, {uri: {exact: /legacy}}]
    rewrite: {uri: /v2, authority: echo-v2}
    route: [{destination: {host: echo}}]`);
    const a = planOf(y, '/api/v1/users?x=1');
    assert.deepEqual(a.kind === 'forward' && a.rewrite, { authority: 'echo-v2', path: '/v2/users?x=1' });
    const b = planOf(y, '/legacy');
    assert.deepEqual(b.kind === 'forward' && b.rewrite, { authority: 'echo-v2', path: '/v2' });
  });
});
