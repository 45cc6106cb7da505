import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIstioDurationMs } from './duration.js';
import { decodeWithTable } from '../../test/support/kind-table-harness.js';
import { networkingDecoders } from './networking-decoders.js';
import type { DestinationRuleResource, VirtualServiceResource } from './networking-resources.js';

const decode = (text: string) => decodeWithTable(networkingDecoders, text);
const vs = (spec: string, apiVersion = 'networking.istio.io/v1') => `apiVersion: ${apiVersion}\nkind: VirtualService\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n${spec}`;
const dr = (spec: string) => `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n${spec}`;

function only<T>(text: string): T {
  const { resources, messages } = decode(text);
  assert.deepEqual(messages, []);
  assert.equal(resources.length, 1);
  return resources[0] as T;
}

describe('parseIstioDurationMs', () => {
  it('reads Go duration text as whole milliseconds', () => {
    const cases: [string, number][] = [['1.5s', 1500], ['100ms', 100], ['2m', 120_000], ['1h30m', 5_400_000], ['.5s', 500], ['1000000ns', 1], ['10s', 10_000]];
    for (const [text, ms] of cases) assert.deepEqual(parseIstioDurationMs(text), { ms }, text);
  });

  it('rejects unitless, negative, sub-millisecond and unknown-unit durations with a reason', () => {
    assert.match((parseIstioDurationMs('10') as { error: string }).error, /"10" is not a duration/);
    assert.match((parseIstioDurationMs('-1s') as { error: string }).error, /is not a duration/);
    assert.match((parseIstioDurationMs('1d') as { error: string }).error, /is not a duration/);
    assert.match((parseIstioDurationMs('500us') as { error: string }).error, /"500us" must be at least 1ms/);
    assert.match((parseIstioDurationMs('1.5ms') as { error: string }).error, /"1.5ms" is finer than a millisecond/);
    assert.match((parseIstioDurationMs('0s') as { error: string }).error, /must be at least 1ms/);
    assert.deepEqual(parseIstioDurationMs('0s', { allowZero: true }), { ms: 0 });
  });
});

describe('VirtualService decoder', () => {
  it('decodes a 90/10 canary split between two subsets', () => {
    const r = only<VirtualServiceResource>(vs(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
`));
    assert.deepEqual(r.spec.hosts, ['reviews']);
    assert.deepEqual(r.spec.gateways, []);
    assert.deepEqual(r.spec.http[0]!.route.map((d) => [d.destination.subset, d.weight]), [['v1', 90], ['v2', 10]]);
  });

  it('accepts the v1beta1 and v1alpha3 apiVersions', () => {
    for (const v of ['networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3']) {
      only<VirtualServiceResource>(vs('  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n', v));
    }
  });

  it('routes by header with a default route, and gives a lone destination weight 100', () => {
    const r = only<VirtualServiceResource>(vs(`  hosts: [reviews]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /api}
      method: {exact: GET}
      queryParams: {debug: {regex: "^(1|true)$"}}
      port: 9080
      sourceLabels: {app: productpage}
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1, port: {number: 9080}}}]
`));
    const m = r.spec.http[0]!.match[0]!;
    assert.deepEqual(m.headers['end-user'], { type: 'exact', value: 'jason' });
    assert.deepEqual(m.uri, { type: 'prefix', value: '/api' });
    assert.deepEqual(m.queryParams['debug'], { type: 'regex', value: '^(1|true)$' });
    assert.equal(m.port, 9080);
    assert.deepEqual({ ...m.sourceLabels }, { app: 'productpage' });
    assert.equal(r.spec.http[0]!.route[0]!.weight, 100);
    assert.deepEqual(r.spec.http[1]!.route[0]!.destination, { host: 'reviews', subset: 'v1', port: 9080 });
  });

  it('decodes fault injection: a delay for one user and an abort for a share of requests', () => {
    const r = only<VirtualServiceResource>(vs(`  hosts: [ratings]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault:
      delay: {fixedDelay: 7s, percentage: {value: 100}}
    route: [{destination: {host: ratings, subset: v1}}]
  - fault:
      abort: {httpStatus: 500, percentage: {value: 10.5}}
    route: [{destination: {host: ratings, subset: v1}}]
  - fault:
      abort: {grpcStatus: UNAVAILABLE}
    route: [{destination: {host: ratings, subset: v1}}]
`));
    assert.deepEqual(r.spec.http[0]!.fault, { delay: { fixedDelayMs: 7000, percentage: 100 } });
    assert.deepEqual(r.spec.http[1]!.fault, { abort: { httpStatus: 500, percentage: 10.5 } });
    assert.deepEqual(r.spec.http[2]!.fault, { abort: { grpcStatus: 'UNAVAILABLE' } });
  });

  it('decodes retries, a timeout, header operations, a rewrite and a mirror', () => {
    const r = only<VirtualServiceResource>(vs(`  hosts: [httpbin]
  http:
  - timeout: 10s
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure,refused-stream,503"}
    rewrite: {uri: /v1}
    headers:
      request: {set: {x-canary: "true"}, remove: [x-debug]}
      response: {add: {x-served-by: ambit}}
    route:
    - destination: {host: httpbin, subset: v1}
      weight: 100
      headers: {response: {set: {x-version: v1}}}
    mirror: {host: httpbin, subset: v2}
    mirrorPercentage: {value: 50}
`));
    const h = r.spec.http[0]!;
    assert.equal(h.timeoutMs, 10_000);
    assert.deepEqual(h.retries, { attempts: 3, perTryTimeoutMs: 2000, retryOn: ['gateway-error', 'connect-failure', 'refused-stream', '503'] });
    assert.deepEqual(h.rewrite, { uri: '/v1' });
    assert.deepEqual({ ...h.headers?.request?.set }, { 'x-canary': 'true' });
    assert.deepEqual(h.headers?.request?.remove, ['x-debug']);
    assert.deepEqual({ ...h.headers?.response?.add }, { 'x-served-by': 'ambit' });
    assert.deepEqual({ ...h.route[0]!.headers?.response?.set }, { 'x-version': 'v1' });
    assert.deepEqual(h.mirror, { destination: { host: 'httpbin', subset: 'v2' }, percentage: 50 });
  });

  it('decodes a redirect with Istio\'s default 301 and a minimal tcp route', () => {
    const r = only<VirtualServiceResource>(vs(`  hosts: [reviews]
  http:
  - match: [{uri: {exact: /v1/getProductRatings}}]
    redirect: {uri: /v1/bookRatings, authority: newratings.default.svc.cluster.local}
  tcp:
  - match: [{port: 27017, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: mongo, port: {number: 5555}}}]
`));
    assert.deepEqual(r.spec.http[0]!.redirect, { uri: '/v1/bookRatings', authority: 'newratings.default.svc.cluster.local', redirectCode: 301 });
    assert.deepEqual(r.spec.tcp[0], { match: [{ port: 27017, destinationSubnets: ['10.0.0.0/8'] }], route: [{ destination: { host: 'mongo', port: 5555 }, weight: 100 }] });
  });

  const route = '    route: [{destination: {host: reviews}}]\n';
  const bad: [string, string, string][] = [
    ['a split whose weights total 0 (Istio rejects only a zero total; weights are relative)',
      vs('  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n    - destination: {host: reviews, subset: v2}\n'),
      'spec.http[0].route: total destination weight is 0: give at least one destination a weight'],
    ['a negative weight', vs('  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 110}\n    - {destination: {host: reviews, subset: v2}, weight: -10}\n'),
      'spec.http[0].route[1].weight: must be between 0 and 2147483647, got -10'],
    ['a duration with no unit', vs(`  hosts: [reviews]\n  http:\n  - timeout: "10"\n${route}`),
      'spec.http[0].timeout: "10" is not a duration (a number and a unit ns, us, ms, s, m or h, e.g. "1.5s", "100ms", "2m")'],
    ['a duration finer than a millisecond', vs(`  hosts: [reviews]\n  http:\n  - retries: {attempts: 2, perTryTimeout: 1500us}\n${route}`),
      'spec.http[0].retries.perTryTimeout: "1500us" is finer than a millisecond, which is not supported'],
    ['a regex over 1024 characters', vs(`  hosts: [reviews]\n  http:\n  - match: [{uri: {regex: "${'a'.repeat(1025)}"}}]\n${route}`),
      'spec.http[0].match[0].uri.regex: must be at most 1024 characters'],
    ['a regex that is not a string', vs(`  hosts: [reviews]\n  http:\n  - match: [{headers: {x-id: {regex: 5}}}]\n${route}`),
      'spec.http[0].match[0].headers.x-id.regex: must be a string, got number 5'],
    ['a string match with two kinds', vs(`  hosts: [reviews]\n  http:\n  - match: [{uri: {exact: /a, prefix: /b}}]\n${route}`),
      'spec.http[0].match[0].uri: must set exactly one of exact, prefix or regex, got exact and prefix'],
    ['an empty prefix match', vs(`  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: ""}}]\n${route}`),
      'spec.http[0].match[0].uri.prefix: a prefix match must not be empty'],
    ['a bad header name in a match', vs(`  hosts: [reviews]\n  http:\n  - match: [{headers: {"bad header": {exact: x}}}]\n${route}`),
      'spec.http[0].match[0].headers.bad header: is not a valid header name'],
    ['a fault percentage over 100', vs(`  hosts: [reviews]\n  http:\n  - fault: {abort: {httpStatus: 503, percentage: {value: 150}}}\n${route}`),
      'spec.http[0].fault.abort.percentage.value: must be between 0 and 100, got 150'],
    ['an abort with both an HTTP and a gRPC status', vs(`  hosts: [reviews]\n  http:\n  - fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}\n${route}`),
      'spec.http[0].fault.abort: must set exactly one of httpStatus or grpcStatus'],
    ['an unknown gRPC status', vs(`  hosts: [reviews]\n  http:\n  - fault: {abort: {grpcStatus: BROKEN}}\n${route}`),
      'spec.http[0].fault.abort.grpcStatus: "BROKEN" is not a gRPC status name such as UNAVAILABLE'],
    ['an abort status out of range', vs(`  hosts: [reviews]\n  http:\n  - fault: {abort: {httpStatus: 700}}\n${route}`),
      'spec.http[0].fault.abort.httpStatus: must be between 200 and 599, got 700'],
    ['a fault with neither delay nor abort', vs(`  hosts: [reviews]\n  http:\n  - fault: {}\n${route}`),
      'spec.http[0].fault: must set delay, abort or both'],
    ['a delay with no fixedDelay', vs(`  hosts: [reviews]\n  http:\n  - fault: {delay: {percentage: {value: 5}}}\n${route}`),
      'spec.http[0].fault.delay.fixedDelay: is required'],
    ['an unknown retryOn policy', vs(`  hosts: [reviews]\n  http:\n  - retries: {attempts: 3, retryOn: "5xx,sometimes"}\n${route}`),
      'spec.http[0].retries.retryOn: "sometimes" is not a retry policy Envoy knows'],
    ['retry settings with attempts 0', vs(`  hosts: [reviews]\n  http:\n  - retries: {attempts: 0, perTryTimeout: 1s}\n${route}`),
      'spec.http[0].retries.attempts: is 0 (retries disabled) but perTryTimeout or retryOn is set'],
    ['a redirect next to a route', vs(`  hosts: [reviews]\n  http:\n  - redirect: {uri: /x}\n${route}`),
      'spec.http[0].redirect: cannot be used together with route'],
    ['an http route with nowhere to go', vs('  hosts: [reviews]\n  http:\n  - name: lost\n'),
      'spec.http[0].route: is required unless redirect is set'],
    ['a redirect code that is not 3xx', vs('  hosts: [reviews]\n  http:\n  - redirect: {uri: /x, redirectCode: 200}\n'),
      'spec.http[0].redirect.redirectCode: must be between 300 and 399, got 200'],
    ['a destination without a host', vs('  hosts: [reviews]\n  http:\n  - route: [{destination: {subset: v1}}]\n'),
      'spec.http[0].route[0].destination.host: is required'],
    ['a subset name that is not a DNS label', vs('  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, subset: V_1}}]\n'),
      'spec.http[0].route[0].destination.subset: "V_1" is not a valid subset name (DNS-1123 label)'],
    ['a destination port out of range', vs('  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews, port: {number: 70000}}}]\n'),
      'spec.http[0].route[0].destination.port.number: must be between 1 and 65535, got 70000'],
    ['a mirror percentage without a mirror', vs(`  hosts: [reviews]\n  http:\n  - mirrorPercentage: {value: 5}\n${route}`),
      'spec.http[0].mirrorPercentage: is set without mirror'],
    ['the wildcard host on the mesh', vs(`  hosts: ["*"]\n  http:\n  -${route.slice(5)}`),
      'spec.hosts: the wildcard host "*" is not allowed for virtual services bound to the mesh'],
    ['no routes at all', vs('  hosts: [reviews]\n'), 'spec: must set http, tcp or tls routes'],
    ['a tcp route without destinations', vs('  hosts: [mongo]\n  tcp:\n  - match: [{port: 27017}]\n'), 'spec.tcp[0].route: is required'],
    ['a bad destination subnet', vs('  hosts: [mongo]\n  tcp:\n  - match: [{destinationSubnets: [10.0.0.0/99]}]\n    route: [{destination: {host: mongo}}]\n'),
      'spec.tcp[0].match[0].destinationSubnets[0]: "10.0.0.0/99" is not an IP address or CIDR'],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name}`, () => {
      const { messages } = decode(text);
      assert.ok(messages.includes(expected), `expected ${JSON.stringify(expected)} in ${JSON.stringify(messages)}`);
    });
  }
});

describe('DestinationRule decoder', () => {
  it('decodes subsets with labels, a load balancer per subset and a consistent-hash cookie', () => {
    const r = only<DestinationRuleResource>(dr(`  host: reviews
  trafficPolicy:
    loadBalancer: {simple: LEAST_REQUEST}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpCookie: {name: user, ttl: 0s}}
`));
    assert.equal(r.spec.host, 'reviews');
    assert.deepEqual(r.spec.trafficPolicy, { loadBalancer: { simple: 'LEAST_REQUEST' } });
    assert.deepEqual(r.spec.subsets.map((s) => [s.name, { ...s.labels }]), [['v1', { version: 'v1' }], ['v2', { version: 'v2' }], ['v3', { version: 'v3' }]]);
    assert.deepEqual(r.spec.subsets[2]!.trafficPolicy, { loadBalancer: { consistentHash: { httpCookie: { name: 'user', ttlMs: 0 } } } });
  });

  it('decodes the circuit-breaking example: connection pool limits and outlier detection', () => {
    const r = only<DestinationRuleResource>(dr(`  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1, maxRetries: 3, http2MaxRequests: 100}
    outlierDetection:
      consecutive5xxErrors: 1
      consecutiveGatewayErrors: 2
      interval: 1s
      baseEjectionTime: 3m
      maxEjectionPercent: 100
      minHealthPercent: 0
`));
    assert.deepEqual(r.spec.trafficPolicy, {
      connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 100, maxRequestsPerConnection: 1, maxRetries: 3 } },
      outlierDetection: { consecutive5xxErrors: 1, consecutiveGatewayErrors: 2, intervalMs: 1000, baseEjectionTimeMs: 180_000, maxEjectionPercent: 100, minHealthPercent: 0 },
    });
  });

  it('decodes header and source-IP hashing', () => {
    const r = only<DestinationRuleResource>(dr('  host: a\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}\n'));
    assert.deepEqual(r.spec.trafficPolicy?.loadBalancer, { consistentHash: { httpHeaderName: 'x-user' } });
    const s = only<DestinationRuleResource>(dr('  host: a\n  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}\n'));
    assert.deepEqual(s.spec.trafficPolicy?.loadBalancer, { consistentHash: { useSourceIp: true } });
  });

  const bad: [string, string, string][] = [
    ['a missing host', dr('  subsets: []\n'), 'spec.host: is required'],
    ['an unknown simple load balancer', dr('  host: a\n  trafficPolicy: {loadBalancer: {simple: FASTEST}}\n'),
      'spec.trafficPolicy.loadBalancer.simple: must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, PASSTHROUGH'],
    ['both simple and consistentHash', dr('  host: a\n  trafficPolicy: {loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}}\n'),
      'spec.trafficPolicy.loadBalancer: must set exactly one of simple or consistentHash'],
    ['a hash cookie without a name', dr('  host: a\n  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {ttl: 10s}}}}\n'),
      'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: is required'],
    ['two hash keys', dr('  host: a\n  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}}\n'),
      'spec.trafficPolicy.loadBalancer.consistentHash: must set exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName'],
    ['an empty connection pool', dr('  host: a\n  trafficPolicy: {connectionPool: {}}\n'),
      'spec.trafficPolicy.connectionPool: must set tcp, http or both'],
    ['a negative connection limit', dr('  host: a\n  trafficPolicy: {connectionPool: {tcp: {maxConnections: -1}}}\n'),
      'spec.trafficPolicy.connectionPool.tcp.maxConnections: must be between 0 and 2147483647, got -1'],
    ['a bad outlier interval', dr('  host: a\n  trafficPolicy: {outlierDetection: {interval: 5 minutes}}\n'),
      'spec.trafficPolicy.outlierDetection.interval: "5 minutes" is not a duration (a number and a unit ns, us, ms, s, m or h, e.g. "1.5s", "100ms", "2m")'],
    ['an ejection percentage over 100', dr('  host: a\n  trafficPolicy: {outlierDetection: {maxEjectionPercent: 150}}\n'),
      'spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be between 0 and 100, got 150'],
    ['an empty traffic policy', dr('  host: a\n  trafficPolicy: {}\n'), 'spec.trafficPolicy: must have at least one field'],
    ['duplicate subset names', dr('  host: a\n  subsets: [{name: v1}, {name: v1}]\n'), 'spec.subsets[1].name: duplicate subset name "v1"'],
    ['a bad subset label', dr('  host: a\n  subsets: [{name: v1, labels: {"bad key!": x}}]\n'), 'spec.subsets[0].labels.bad key!: is not a valid Kubernetes label'],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name}`, () => {
      const { messages } = decode(text);
      assert.ok(messages.includes(expected), `expected ${JSON.stringify(expected)} in ${JSON.stringify(messages)}`);
    });
  }
});
