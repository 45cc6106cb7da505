// Direct tier: routing at the waypoint (issue 5, "Routing and traffic policy") — HTTPRoute with a
// Service parentRef (GAMMA) and VirtualService: matches, precedence, weighted backends with
// DestinationRule subsets, header modifiers, redirects, rewrites, mirrors, and "HTTPRoute wins"
// over a VirtualService for the same host. The echo backend reflects method, path, headers and
// which pod answered (the Gateway API mesh conformance pattern); weights and percentages are
// checked over hundreds of requests with a seeded random source. Addresses 127.88.x.y.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waypointMesh } from '../fixtures/mesh/waypoint-direct.js';
import { seededRandom } from '../../shared/seeded-random.js';
import { httpOver, waypointScene, type HttpReply } from '../support/waypoint-harness.js';
import { eventually } from '../support/ztunnel-harness.js';

/** Services of the echo pods, each reached on its own VIP 10.96.88.<n>, port 80 → named port http. */
const vips = { hr: 21, 'echo-v1': 22, 'echo-v2': 23, split: 24, zero: 25, filters: 26, prec: 27, vs: 28, both: 29 } as const;
type Svc = keyof typeof vips;
const service = (name: Svc, selector = 'app: echo') =>
  `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: demo}\nspec: {clusterIP: 10.96.88.${vips[name]}, selector: {${selector}}, ports: [{name: http, port: 80, targetPort: http}]}\n`;
const httpRoute = (name: string, parent: Svc, rules: string, annotations = '') =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: ${name}, namespace: demo${annotations}}\nspec:\n  parentRefs: [{group: "", kind: Service, name: ${parent}}]\n  rules:\n${rules}`;
/** A rule that tags which rule matched with a request header the echo reflects. */
const tagged = (tag: string, matches: string, backend: Svc = 'hr') =>
  `  - matches: [${matches}]\n    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-rule, value: ${tag}}]}}]\n    backendRefs: [{name: ${backend}, port: 80}]\n`;

const extra = [
  service('hr'), service('echo-v1', 'app: echo, version: v1'), service('echo-v2', 'app: echo, version: v2'),
  service('split'), service('zero'), service('filters'), service('prec'), service('vs'), service('both'),
  httpRoute('matches', 'hr',
    tagged('exact', '{path: {type: Exact, value: /exact}}') +
    tagged('prefix', '{path: {type: PathPrefix, value: /prefix}}') +
    tagged('regex', '{path: {type: RegularExpression, value: "/re/[0-9]+"}}') +
    tagged('header', '{path: {type: PathPrefix, value: /h}, headers: [{name: x-pick, value: me}]}') +
    tagged('query', '{path: {type: PathPrefix, value: /q}, queryParams: [{name: pick, value: me}]}') +
    tagged('method', '{path: {type: PathPrefix, value: /m}, method: POST}')),
  httpRoute('split', 'split', '  - backendRefs: [{name: echo-v1, port: 80, weight: 90}, {name: echo-v2, port: 80, weight: 10}]\n'),
  httpRoute('zero', 'zero', '  - backendRefs: [{name: echo-v1, port: 80, weight: 0}, {name: echo-v2, port: 80, weight: 0}]\n'),
  httpRoute('filters', 'filters', `  - matches: [{path: {type: PathPrefix, value: /headers}}]
    filters:
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-set, value: set-by-route}], add: [{name: x-add, value: added}], remove: [x-drop]}}
    - {type: ResponseHeaderModifier, responseHeaderModifier: {set: [{name: x-resp-set, value: r1}], add: [{name: x-resp-add, value: r2}], remove: [x-echo-pod]}}
    backendRefs: [{name: filters, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /old}}]
    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: moved.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}, statusCode: 301}}]
  - matches: [{path: {type: PathPrefix, value: /rewrite}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: rewritten.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}}]
    backendRefs: [{name: filters, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /mirror}}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: echo-v2, port: 80}}}]
    backendRefs: [{name: echo-v1, port: 80}]
`),
  // Precedence across two routes: Exact beats any prefix, the longer prefix beats the shorter,
  // more header matches win, and on a full tie the route first by namespace/name wins.
  httpRoute('prec-b', 'prec', tagged('b-prefix', '{path: {type: PathPrefix, value: /p}}') + tagged('b-tie', '{path: {type: PathPrefix, value: /tie}}') + tagged('b-headers', '{path: {type: PathPrefix, value: /hdr}, headers: [{name: x-a, value: "1"}, {name: x-b, value: "1"}]}', 'prec')),
  httpRoute('prec-a', 'prec', tagged('a-exact', '{path: {type: Exact, value: /p/x}}') + tagged('a-longer', '{path: {type: PathPrefix, value: /p/long}}') + tagged('a-tie', '{path: {type: PathPrefix, value: /tie}}') + tagged('a-header', '{path: {type: PathPrefix, value: /hdr}, headers: [{name: x-a, value: "1"}]}', 'prec')),
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: vs, namespace: demo}
spec:
  host: vs.demo.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: demo}
spec:
  hosts: [vs.demo.svc.cluster.local]
  http:
  - {name: exact, match: [{uri: {exact: /exact}}], route: [{destination: {host: vs, subset: v1}}], headers: {request: {set: {x-rule: exact}}}}
  - {name: prefix, match: [{uri: {prefix: /prefix}}], route: [{destination: {host: vs, subset: v2}}], headers: {request: {set: {x-rule: prefix}}}}
  - {name: regex, match: [{uri: {regex: "/re/[0-9]+"}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: regex}}}}
  - {name: header, match: [{uri: {prefix: /h}, headers: {x-pick: {exact: me}}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: header}}}}
  - {name: method, match: [{uri: {prefix: /m}, method: {exact: POST}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: method}}}}
  - {name: query, match: [{uri: {prefix: /q}, queryParams: {pick: {exact: me}}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: query}}}}
  - {name: first, match: [{uri: {prefix: /first}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: first}}}}
  - {name: second, match: [{uri: {exact: /first/x}}], route: [{destination: {host: vs}}], headers: {request: {set: {x-rule: second}}}}
  - name: headers
    match: [{uri: {prefix: /headers}}]
    route: [{destination: {host: vs}}]
    headers: {request: {set: {x-set: set-by-vs}, add: {x-add: added}, remove: [x-drop]}, response: {set: {x-resp-set: r1}, add: {x-resp-add: r2}, remove: [x-echo-pod]}}
  - name: mirror
    match: [{uri: {prefix: /mirror}}]
    route: [{destination: {host: vs, subset: v1}}]
    mirror: {host: vs, subset: v2}
    mirrorPercentage: {value: 25}
  - {name: weights, route: [{destination: {host: vs, subset: v1}, weight: 90}, {destination: {host: vs, subset: v2}, weight: 10}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both, namespace: demo}
spec:
  hosts: [both.demo.svc.cluster.local]
  http: [{headers: {request: {set: {x-rule: from-vs}}}, route: [{destination: {host: both}}]}]
`,
  httpRoute('both', 'both', tagged('from-httproute', '{path: {type: PathPrefix, value: /}}', 'both')),
].join('---\n');
const mesh = waypointMesh('127.88', extra);

describe('routing at the waypoint (direct tier)', () => {
  const scene = waypointScene(mesh, { random: seededRandom(88) });

  const send = (svc: Svc, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpReply> =>
    httpOver(scene.cluster.connectFrom('node-1', mesh.ips.client, { ip: `10.96.88.${vips[svc]}`, port: 80 }), { path, host: `${svc}.demo.svc.cluster.local`, ...opts });
  const ruleOf = async (svc: Svc, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<string | number> => {
    const r = await send(svc, path, opts);
    return r.status === 200 ? String(r.echo?.headers['x-rule']) : r.status;
  };
  /** Pods that answered `n` sequential requests, counted. */
  const spread = async (svc: Svc, path: string, n: number): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await send(svc, path);
      assert.equal(r.status, 200, r.body);
      counts[r.echo!.pod] = (counts[r.echo!.pod] ?? 0) + 1;
    }
    return counts;
  };
  /** |observed - n·p| within 4 binomial standard deviations. */
  const near = (observed: number, n: number, p: number, what: string): void => {
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(observed - n * p) <= 4 * sd, `${what}: ${observed} of ${n}, expected ≈ ${n * p} ± ${Math.round(4 * sd)}`);
  };

  describe('HTTPRoute with a Service parentRef (GAMMA)', () => {
    it('matches path Exact, PathPrefix (whole segments) and RegularExpression (whole path)', async () => {
      assert.equal(await ruleOf('hr', '/exact'), 'exact');
      assert.equal(await ruleOf('hr', '/exact/more'), 404, 'Exact does not match a longer path');
      assert.equal(await ruleOf('hr', '/prefix'), 'prefix');
      assert.equal(await ruleOf('hr', '/prefix/a/b?x=1'), 'prefix');
      assert.equal(await ruleOf('hr', '/prefixed'), 404, 'PathPrefix matches whole path elements');
      assert.equal(await ruleOf('hr', '/re/42'), 'regex');
      assert.equal(await ruleOf('hr', '/re/42x'), 404, 'the regex must match the whole path');
    });

    it('matches headers, query parameters and the method, and answers 404 when no rule matches', async () => {
      assert.equal(await ruleOf('hr', '/h', { headers: { 'x-pick': 'me' } }), 'header');
      assert.equal(await ruleOf('hr', '/h', { headers: { 'x-pick': 'you' } }), 404);
      assert.equal(await ruleOf('hr', '/q?a=1&pick=me'), 'query');
      assert.equal(await ruleOf('hr', '/q?pick=you'), 404);
      assert.equal(await ruleOf('hr', '/m', { method: 'POST' }), 'method');
      assert.equal(await ruleOf('hr', '/m'), 404);
      const line = scene.wp.logs.find('request', (l) => l['path'] === '/m' && l['response_code'] === 404)[0];
      assert.match(String(line?.['response_flags']), /NR/);
    });

    it('orders rules across two routes by Gateway API precedence: Exact, longest prefix, most headers, then namespace/name', async () => {
      assert.equal(await ruleOf('prec', '/p/x'), 'a-exact');
      assert.equal(await ruleOf('prec', '/p/long/y'), 'a-longer');
      assert.equal(await ruleOf('prec', '/p/other'), 'b-prefix');
      assert.equal(await ruleOf('prec', '/hdr', { headers: { 'x-a': '1', 'x-b': '1' } }), 'b-headers');
      assert.equal(await ruleOf('prec', '/hdr', { headers: { 'x-a': '1' } }), 'a-header');
      assert.equal(await ruleOf('prec', '/tie'), 'a-tie', 'demo/prec-a sorts before demo/prec-b');
    });

    it('splits traffic 90/10 between weighted backendRefs (seeded, 400 requests)', async () => {
      const counts = await spread('split', '/split', 400);
      near(counts['echo-v2'] ?? 0, 400, 0.1, 'echo-v2 share');
      assert.equal((counts['echo-v1'] ?? 0) + (counts['echo-v2'] ?? 0), 400);
    });

    it('answers 500 when every backendRef has weight 0, reaching no backend', async () => {
      const before = scene.echoes[0]!.requests.length + scene.echoes[1]!.requests.length;
      const r = await send('zero', '/zero');
      assert.equal(r.status, 500);
      assert.equal(scene.echoes[0]!.requests.length + scene.echoes[1]!.requests.length, before);
    });

    it('modifies request headers (set, add, remove) and response headers (set, add, remove)', async () => {
      const r = await send('filters', '/headers', { headers: { 'x-set': 'from-client', 'x-add': 'client', 'x-drop': 'gone' } });
      assert.equal(r.status, 200, r.body);
      const h = r.echo!.headers;
      assert.equal(h['x-set'], 'set-by-route');
      assert.deepEqual(String(h['x-add']).split(/,\s*/).sort(), ['added', 'client']);
      assert.equal(h['x-drop'], undefined);
      assert.equal(r.headers['x-resp-set'], 'r1');
      assert.equal(r.headers['x-resp-add'], 'r2');
      assert.equal(r.headers['x-echo-pod'], undefined, 'the backend header was removed');
    });

    it('redirects with the configured status and a Location from scheme, hostname and prefix replacement', async () => {
      const before = scene.echoes[0]!.requests.length + scene.echoes[1]!.requests.length;
      const r = await send('filters', '/old/page?k=v');
      assert.equal(r.status, 301);
      assert.equal(r.headers['location'], 'https://moved.example/new/page?k=v');
      assert.equal(scene.echoes[0]!.requests.length + scene.echoes[1]!.requests.length, before, 'a redirect reaches no backend');
    });

    it('rewrites the path prefix and the Host header before forwarding', async () => {
      const r = await send('filters', '/rewrite/item?x=1');
      assert.equal(r.status, 200, r.body);
      assert.equal(r.echo?.path, '/v2/item?x=1');
      assert.match(String(r.echo?.headers['host']), /^rewritten\.example(:80)?$/);
    });

    it('mirrors a copy to the mirror backend and answers the client with the primary backend', async () => {
      const before = scene.echoes[1]!.requests.filter((q) => q.path === '/mirror/1').length;
      const r = await send('filters', '/mirror/1');
      assert.equal(r.status, 200);
      assert.equal(r.echo?.pod, 'echo-v1');
      await eventually(() => assert.equal(scene.echoes[1]!.requests.filter((q) => q.path === '/mirror/1').length, before + 1, 'echo-v2 got the copy'), 3_000);
      const copy = scene.echoes[1]!.requests.filter((q) => q.path === '/mirror/1').at(-1)!;
      assert.match(String(copy.headers['host']), /^filters\.demo\.svc\.cluster\.local-shadow(:80)?$/, 'Envoy marks the copy with a -shadow host');
    });

    // Regression: the copy kept Content-Length but was ended without its body, so the mirror
    // backend never got a complete request.
    it('mirrors the request body along with the method', async () => {
      const r = await send('filters', '/mirror/body', { method: 'POST', body: 'payload-123' });
      assert.equal(r.echo?.body, 'payload-123');
      await eventually(() => assert.ok(scene.echoes[1]!.requests.some((q) => q.path === '/mirror/body'), 'echo-v2 got the copy'), 3_000);
      const copy = scene.echoes[1]!.requests.find((q) => q.path === '/mirror/body')!;
      assert.equal(copy.method, 'POST');
      assert.equal(copy.body, 'payload-123');
    });
  });

  describe('VirtualService', () => {
    it('matches uri exact, prefix and regex, headers, method and query params, in first-match order', async () => {
      assert.equal(await ruleOf('vs', '/exact'), 'exact');
      assert.equal(await ruleOf('vs', '/prefix/any'), 'prefix');
      assert.equal(await ruleOf('vs', '/prefixed'), 'prefix', 'an Istio uri prefix is a plain string prefix');
      assert.equal(await ruleOf('vs', '/re/7'), 'regex');
      assert.equal(await ruleOf('vs', '/h', { headers: { 'x-pick': 'me' } }), 'header');
      assert.equal(await ruleOf('vs', '/m', { method: 'POST' }), 'method');
      assert.equal(await ruleOf('vs', '/q?pick=me'), 'query');
      assert.equal(await ruleOf('vs', '/first/x'), 'first', 'the earlier rule wins even when a later one is more specific');
    });

    it('routes to DestinationRule subsets by their labels', async () => {
      for (let i = 0; i < 4; i++) {
        assert.equal((await send('vs', '/exact')).echo?.pod, 'echo-v1');
        assert.equal((await send('vs', '/prefix')).echo?.pod, 'echo-v2');
      }
    });

    it('splits route weights 90/10 across subsets (seeded, 400 requests)', async () => {
      const counts = await spread('vs', '/weights', 400);
      near(counts['echo-v2'] ?? 0, 400, 0.1, 'subset v2 share');
    });

    it('mirrors mirrorPercentage of requests to the mirror subset (seeded, 200 requests)', async () => {
      const mirrored = () => scene.echoes[1]!.requests.filter((q) => q.path.startsWith('/mirror/vs-')).length;
      for (let i = 0; i < 200; i++) assert.equal((await send('vs', `/mirror/vs-${i}`)).echo?.pod, 'echo-v1');
      let seen = 0;
      await eventually(() => {
        seen = mirrored();
        near(seen, 200, 0.25, 'mirrored share');
      }, 3_000);
    });

    it('sets, adds and removes request and response headers', async () => {
      const r = await send('vs', '/headers', { headers: { 'x-set': 'from-client', 'x-add': 'client', 'x-drop': 'gone' } });
      const h = r.echo!.headers;
      assert.equal(h['x-set'], 'set-by-vs');
      assert.deepEqual(String(h['x-add']).split(/,\s*/).sort(), ['added', 'client']);
      assert.equal(h['x-drop'], undefined);
      assert.equal(r.headers['x-resp-set'], 'r1');
      assert.equal(r.headers['x-resp-add'], 'r2');
      assert.equal(r.headers['x-echo-pod'], undefined);
    });
  });

  it('lets an HTTPRoute win over a VirtualService for the same host, with a warning naming both', async () => {
    for (let i = 0; i < 3; i++) assert.equal(await ruleOf('both', `/any/${i}`), 'from-httproute');
    const w = scene.wp.warnings.find((x) => x.kind === 'VirtualService' && x.name === 'both');
    assert.ok(w, JSON.stringify(scene.wp.warnings));
    assert.match(w.reason, /HTTPRoute demo\/both/);
  });
});
