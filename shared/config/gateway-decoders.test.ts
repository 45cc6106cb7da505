import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseGatewayDurationMs } from './duration.js';
import { gatewayDecoders, waypointFor } from './gateway-decoders.js';
import type { GatewayResource, HTTPRouteResource } from './gateway-resources.js';
import { decodeWithTable } from '../../test/support/kind-table-harness.js';

const decode = (text: string) => decodeWithTable(gatewayDecoders, text);
const gw = (spec: string, meta = '{name: gw, namespace: bookinfo}') => `apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: ${meta}\nspec:\n${spec}`;
const route = (spec: string, apiVersion = 'gateway.networking.k8s.io/v1') => `apiVersion: ${apiVersion}\nkind: HTTPRoute\nmetadata: {name: reviews, namespace: bookinfo}\nspec:\n${spec}`;
const meshListener = '  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n';
const saWaypointMeta = '{name: bookinfo-reviews, namespace: bookinfo, annotations: {istio.io/for-service-account: bookinfo-reviews}}';
const parent = '  parentRefs: [{group: "", kind: Service, name: reviews, port: 9080}]\n';

function only<T>(text: string): T {
  const { resources, messages } = decode(text);
  assert.deepEqual(messages, []);
  assert.equal(resources.length, 1);
  return resources[0] as T;
}

function rules(n: number, rule: string): string {
  return `  rules:\n${Array.from({ length: n }, () => `  - ${rule}\n`).join('')}`;
}

describe('parseGatewayDurationMs (GEP-2257)', () => {
  it('reads one to four integer components', () => {
    const cases: [string, number][] = [['1h', 3_600_000], ['1h30m30s500ms', 5_430_500], ['500ms', 500], ['0s', 0], ['00060m', 3_600_000], ['30m1h10s5s', 5_415_000]];
    for (const [text, ms] of cases) assert.deepEqual(parseGatewayDurationMs(text), { ms }, text);
  });

  it('rejects fractions, negatives, big components, five components and other units', () => {
    for (const text of ['1.5s', '-1s', '100000s', '1h1m1s1ms1h', '10us', '1d', '', '10']) {
      assert.ok('error' in parseGatewayDurationMs(text), text);
    }
  });
});

describe('Gateway decoder and waypointFor', () => {
  it('recognises a per-service-account waypoint', () => {
    const g = only<GatewayResource>(gw(`  gatewayClassName: istio-waypoint\n${meshListener}`, saWaypointMeta));
    assert.deepEqual(waypointFor(g), { serviceAccount: 'bookinfo-reviews' });
    assert.deepEqual(g.spec.listeners[0], { name: 'mesh', port: 15008, protocol: 'HBONE', allowedRoutes: { namespaces: { from: 'Same' }, kinds: [] } });
  });

  it('treats a waypoint without the service-account annotation as not per-account', () => {
    const g = only<GatewayResource>(gw(`  gatewayClassName: istio-waypoint\n${meshListener}`, '{name: waypoint, namespace: bookinfo}'));
    assert.equal(waypointFor(g), undefined);
  });

  it('decodes an ordinary gateway with hostnames, allowed routes and addresses, which is no waypoint', () => {
    const g = only<GatewayResource>(gw(`  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    hostname: "*.example.com"
    allowedRoutes:
      namespaces: {from: Selector, selector: {matchLabels: {shared-gateway: "true"}}}
      kinds: [{kind: HTTPRoute}]
  - {name: tcp, port: 9000, protocol: TCP}
  addresses: [{value: 10.0.0.7}, {type: Hostname, value: gw.example.com}]
`, '{name: gw, namespace: bookinfo, annotations: {istio.io/for-service-account: reviews}}'));
    assert.equal(g.spec.listeners[0]!.hostname, '*.example.com');
    const allowed = g.spec.listeners[0]!.allowedRoutes;
    assert.equal(allowed.namespaces.from, 'Selector');
    assert.deepEqual({ ...allowed.namespaces.selector }, { 'shared-gateway': 'true' });
    assert.deepEqual(allowed.kinds, [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute' }]);
    assert.deepEqual(g.spec.addresses, [{ type: 'IPAddress', value: '10.0.0.7' }, { type: 'Hostname', value: 'gw.example.com' }]);
    assert.equal(waypointFor(g), undefined);
  });

  const bad: [string, string, string][] = [
    ['a waypoint without the mesh listener', gw('  gatewayClassName: istio-waypoint\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n', saWaypointMeta),
      'spec.listeners: an istio-waypoint Gateway needs a listener named "mesh" on port 15008 with protocol HBONE'],
    ['a waypoint listener on the wrong port', gw('  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15009, protocol: HBONE}]\n', saWaypointMeta),
      'spec.listeners[0].port: must be 15008 on the waypoint listener "mesh", got 15009'],
    ['a waypoint listener with the wrong protocol', gw('  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HTTP}]\n', saWaypointMeta),
      'spec.listeners[0].protocol: must be HBONE on the waypoint listener "mesh", got "HTTP"'],
    ['a waypoint for an invalid service account', gw(`  gatewayClassName: istio-waypoint\n${meshListener}`, '{name: w, annotations: {istio.io/for-service-account: Bad_SA}}'),
      'metadata.annotations.istio.io/for-service-account: "Bad_SA" is not a valid service account name'],
    ['a missing class', gw('  listeners: [{name: http, port: 80, protocol: HTTP}]\n'), 'spec.gatewayClassName: is required'],
    ['no listeners', gw('  gatewayClassName: istio\n  listeners: []\n'), 'spec.listeners: must have at least one listener'],
    ['more than 64 listeners', gw(`  gatewayClassName: istio\n  listeners:\n${Array.from({ length: 65 }, (_, i) => `  - {name: l${i}, port: ${1000 + i}, protocol: HTTP}\n`).join('')}`),
      'spec.listeners: must have at most 64 entries'],
    ['duplicate listener names', gw('  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}, {name: http, port: 81, protocol: HTTP}]\n'),
      'spec.listeners[1].name: duplicate listener name "http": listener names must be unique within the Gateway'],
    ['a repeated port, protocol and hostname', gw('  gatewayClassName: istio\n  listeners: [{name: a, port: 80, protocol: HTTP}, {name: b, port: 80, protocol: HTTP}]\n'),
      'spec.listeners[1].port: the combination of port, protocol and hostname must be unique for each listener'],
    ['a hostname on a TCP listener', gw('  gatewayClassName: istio\n  listeners: [{name: t, port: 9000, protocol: TCP, hostname: a.example.com}]\n'),
      'spec.listeners[0].hostname: must not be set for protocol TCP'],
    ['a bad allowedRoutes namespace source', gw('  gatewayClassName: istio\n  listeners: [{name: a, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Everywhere}}}]\n'),
      'spec.listeners[0].allowedRoutes.namespaces.from: must be one of All, Same, Selector'],
    ['an address that is not an IP', gw('  gatewayClassName: istio\n  listeners: [{name: a, port: 80, protocol: HTTP}]\n  addresses: [{type: IPAddress, value: 10.0.0.300}]\n'),
      'spec.addresses[0].value: "10.0.0.300" is not an IP address'],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name}`, () => {
      const { messages } = decode(text);
      assert.ok(messages.includes(expected), `expected ${JSON.stringify(expected)} in ${JSON.stringify(messages)}`);
    });
  }
});

describe('HTTPRoute decoder', () => {
  it('decodes a GAMMA route on a Service: header match, 90/10 split, filters, timeouts and retries', () => {
    const r = only<HTTPRouteResource>(route(`${parent}  rules:
  - name: jason
    matches:
    - path: {type: PathPrefix, value: /reviews}
      headers: [{name: end-user, value: jason}]
      queryParams: [{type: RegularExpression, name: debug, value: "^1$"}]
      method: GET
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-canary, value: "true"}], remove: [x-debug]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-served-by, value: ambit}]}
    - type: RequestMirror
      requestMirror: {backendRef: {name: reviews-shadow, port: 9080}, percent: 10}
    backendRefs:
    - {name: reviews-v1, port: 9080, weight: 90}
    - {name: reviews-v2, port: 9080, weight: 10}
    timeouts: {request: 10s, backendRequest: 2s}
    retry: {codes: [502, 503], attempts: 2, backoff: 100ms}
  - backendRefs: [{name: reviews-v1, port: 9080}]
`));
    assert.deepEqual(r.spec.parentRefs, [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }]);
    const [first, second] = r.spec.rules;
    assert.deepEqual(first!.matches[0], {
      path: { type: 'PathPrefix', value: '/reviews' },
      headers: [{ type: 'Exact', name: 'end-user', value: 'jason' }],
      queryParams: [{ type: 'RegularExpression', name: 'debug', value: '^1$' }],
      method: 'GET',
    });
    assert.deepEqual(first!.backendRefs.map((b) => [b.name, b.weight, b.kind, b.group]), [['reviews-v1', 90, 'Service', ''], ['reviews-v2', 10, 'Service', '']]);
    assert.deepEqual(first!.filters.map((f) => f.type), ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror']);
    assert.deepEqual(first!.filters[0], { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-canary', value: 'true' }], add: [], remove: ['x-debug'] } });
    assert.deepEqual(first!.filters[2], { type: 'RequestMirror', requestMirror: { backendRef: { group: '', kind: 'Service', name: 'reviews-shadow', port: 9080 }, percent: 10 } });
    assert.deepEqual(first!.timeouts, { requestMs: 10_000, backendRequestMs: 2000 });
    assert.deepEqual(first!.retry, { codes: [502, 503], attempts: 2, backoffMs: 100 });
    assert.deepEqual(second!.matches, [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }]);
    assert.equal(second!.backendRefs[0]!.weight, 1);
  });

  it('decodes a Gateway parentRef with redirect and rewrite filters, and accepts v1beta1', () => {
    const r = only<HTTPRouteResource>(route(`  parentRefs: [{name: gw, sectionName: http}]
  hostnames: ["*.example.com", bookinfo.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: new.example.com, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}}]
    backendRefs: [{name: api, port: 8080}]
`, 'gateway.networking.k8s.io/v1beta1'));
    assert.deepEqual(r.spec.parentRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw', sectionName: 'http' }]);
    assert.deepEqual(r.spec.hostnames, ['*.example.com', 'bookinfo.example.com']);
    assert.deepEqual(r.spec.rules[0]!.filters[0], { type: 'RequestRedirect', requestRedirect: { statusCode: 301, scheme: 'https', hostname: 'new.example.com' } });
    assert.deepEqual(r.spec.rules[1]!.filters[0], { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } });
  });

  it('fills in the API server defaults: one catch-all rule, PathPrefix "/", redirect 302', () => {
    const r = only<HTTPRouteResource>(route(`${parent}`));
    assert.deepEqual(r.spec.rules, [{ matches: [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }], filters: [], backendRefs: [] }]);
    const s = only<HTTPRouteResource>(route(`${parent}  rules: [{matches: [{path: {value: /x}}], filters: [{type: RequestRedirect, requestRedirect: {port: 8443}}]}]\n`));
    assert.deepEqual(s.spec.rules[0]!.matches[0]!.path, { type: 'PathPrefix', value: '/x' });
    assert.deepEqual(s.spec.rules[0]!.filters[0], { type: 'RequestRedirect', requestRedirect: { statusCode: 302, port: 8443 } });
  });

  const backend = 'backendRefs: [{name: reviews, port: 9080}]';
  const one = (rule: string) => route(`${parent}  rules:\n  - ${rule}\n`);
  const bad: [string, string, string][] = [
    ['a path that does not start with "/"', one(`{matches: [{path: {type: Exact, value: reviews}}], ${backend}}`),
      'spec.rules[0].matches[0].path.value: "reviews" must be an absolute path starting with "/" for type Exact'],
    ['a prefix with "//"', one(`{matches: [{path: {type: PathPrefix, value: "/a//b"}}], ${backend}}`),
      'spec.rules[0].matches[0].path.value: "/a//b" must not contain "//" for type PathPrefix'],
    ['a path ending in "/.."', one(`{matches: [{path: {value: "/a/.."}}], ${backend}}`),
      'spec.rules[0].matches[0].path.value: "/a/.." must not end with "/.." for type PathPrefix'],
    ['an unknown path type', one(`{matches: [{path: {type: Glob, value: "/a*"}}], ${backend}}`),
      'spec.rules[0].matches[0].path.type: must be one of Exact, PathPrefix, RegularExpression'],
    ['a regex path over 1024 characters', one(`{matches: [{path: {type: RegularExpression, value: "/${'a'.repeat(1024)}"}}], ${backend}}`),
      'spec.rules[0].matches[0].path.value: must be at most 1024 characters'],
    ['an unknown method', one(`{matches: [{method: FETCH}], ${backend}}`),
      'spec.rules[0].matches[0].method: must be one of GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH'],
    ['a bad header name', one(`{matches: [{headers: [{name: "end user", value: x}]}], ${backend}}`),
      'spec.rules[0].matches[0].headers[0].name: "end user" is not a valid name (RFC 7230 token)'],
    ['a weight over 1,000,000', one('{backendRefs: [{name: a, port: 80, weight: 1000001}]}'),
      'spec.rules[0].backendRefs[0].weight: must be between 0 and 1000000, got 1000001'],
    ['a negative weight', one('{backendRefs: [{name: a, port: 80, weight: -1}]}'),
      'spec.rules[0].backendRefs[0].weight: must be between 0 and 1000000, got -1'],
    ['a Service backend without a port', one('{backendRefs: [{name: reviews}]}'),
      'spec.rules[0].backendRefs[0].port: is required for a Service backend (Must have port for Service reference)'],
    ['more than 16 rules', route(`${parent}${rules(17, backend)}`), 'spec.rules: must have at most 16 entries'],
    ['more than 64 matches in a rule', one(`{matches: [${Array.from({ length: 65 }, () => '{}').join(', ')}], ${backend}}`),
      'spec.rules[0].matches: must have at most 64 entries'],
    ['more than 128 matches in a route', route(`${parent}${rules(3, `{matches: [${Array.from({ length: 50 }, () => '{}').join(', ')}], ${backend}}`)}`),
      'spec.rules: have 150 matches in all; a route may have at most 128'],
    ['more than 16 backendRefs', one(`{backendRefs: [${Array.from({ length: 17 }, (_, i) => `{name: b${i}, port: 80}`).join(', ')}]}`),
      'spec.rules[0].backendRefs: must have at most 16 entries'],
    ['a timeout with a fraction', one(`{timeouts: {request: 1.5s}, ${backend}}`),
      'spec.rules[0].timeouts.request: "1.5s" is not a Gateway API duration (GEP-2257: 1 to 4 parts of up to 5 digits and h, m, s or ms, e.g. "1h30m", "500ms")'],
    ['a backend timeout longer than the request timeout', one(`{timeouts: {request: 1s, backendRequest: 2s}, ${backend}}`),
      'spec.rules[0].timeouts.backendRequest: must not be longer than the request timeout'],
    ['a retry code outside 400-599', one(`{retry: {codes: [503, 600]}, ${backend}}`),
      'spec.rules[0].retry.codes[1]: must be an HTTP status code from 400 to 599, got 600'],
    ['negative retry attempts', one(`{retry: {attempts: -1}, ${backend}}`),
      'spec.rules[0].retry.attempts: must be between 0 and ∞, got -1'],
    ['a bad retry backoff', one(`{retry: {attempts: 2, backoff: 1m1}, ${backend}}`),
      'spec.rules[0].retry.backoff: "1m1" is not a Gateway API duration (GEP-2257: 1 to 4 parts of up to 5 digits and h, m, s or ms, e.g. "1h30m", "500ms")'],
    ['a parentRef of an unsupported kind', route('  parentRefs: [{kind: Ingress, name: x}]\n'),
      'spec.parentRefs[0].kind: must be Gateway or Service, got "Ingress"'],
    ['a Service parentRef in the Gateway API group', route('  parentRefs: [{kind: Service, name: reviews}]\n'),
      'spec.parentRefs[0].group: must be "" for kind Service'],
    ['two identical parentRefs', route('  parentRefs: [{name: gw}, {name: gw}]\n'),
      'spec.parentRefs[1]: duplicate parentRef: references to the same parent need distinct sectionName or port'],
    ['a wildcard in the middle of a hostname', route(`${parent}  hostnames: ["foo.*.example.com"]\n`),
      'spec.hostnames[0]: "foo.*.example.com" is not a valid hostname (RFC 1123, optional leading "*.", no IPs)'],
    ['a filter whose config does not match its type', one(`{filters: [{type: ResponseHeaderModifier, requestHeaderModifier: {set: []}, responseHeaderModifier: {}}], ${backend}}`),
      'spec.rules[0].filters[0].requestHeaderModifier: must not be set when type is ResponseHeaderModifier'],
    ['a filter type Ambit does not support', one(`{filters: [{type: CORS, cors: {}}], ${backend}}`),
      'spec.rules[0].filters[0].type: "CORS" is not supported by Ambit (supported: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror)'],
    ['RequestRedirect together with URLRewrite', one('{filters: [{type: RequestRedirect, requestRedirect: {port: 1}}, {type: URLRewrite, urlRewrite: {hostname: a.b}}]}'),
      'spec.rules[0].filters: RequestRedirect and URLRewrite cannot be used together'],
    ['RequestRedirect together with backendRefs', one(`{filters: [{type: RequestRedirect, requestRedirect: {port: 1}}], ${backend}}`),
      'spec.rules[0].backendRefs: must not be set together with a RequestRedirect filter'],
    ['a redirect status code outside the enum', one('{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]}'),
      'spec.rules[0].filters[0].requestRedirect.statusCode: must be one of 301, 302, 303, 307, 308'],
    ['a repeated header modifier', one(`{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: "1"}]}}, {type: RequestHeaderModifier, requestHeaderModifier: {remove: [b]}}], ${backend}}`),
      'spec.rules[0].filters: the RequestHeaderModifier filter cannot be repeated'],
    ['two actions on one header name', one(`{filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-A, value: "1"}], remove: [x-a]}}], ${backend}}`),
      'spec.rules[0].filters[0].requestHeaderModifier.remove[0]: header "x-a" already has an action (set); only one action per header name is allowed'],
    ['ReplacePrefixMatch without a single PathPrefix match', one(`{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}], ${backend}}`),
      'spec.rules[0].matches: a ReplacePrefixMatch path modifier needs exactly one PathPrefix match'],
    ['a mirror with both percent and fraction', one(`{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, percent: 5, fraction: {numerator: 1}}}], ${backend}}`),
      'spec.rules[0].filters[0].requestMirror: only one of percent or fraction may be set'],
    ['a mirror fraction over 1', one(`{filters: [{type: RequestMirror, requestMirror: {backendRef: {name: m, port: 80}, fraction: {numerator: 3, denominator: 2}}}], ${backend}}`),
      'spec.rules[0].filters[0].requestMirror.fraction.numerator: must be less than or equal to denominator'],
    ['duplicate rule names', route(`${parent}  rules: [{name: a, ${backend}}, {name: a, ${backend}}]\n`),
      'spec.rules[1].name: duplicate rule name "a": rule names must be unique within the route'],
  ];
  for (const [name, text, expected] of bad) {
    it(`reports ${name}`, () => {
      const { messages } = decode(text);
      assert.ok(messages.includes(expected), `expected ${JSON.stringify(expected)} in ${JSON.stringify(messages)}`);
    });
  }
});
