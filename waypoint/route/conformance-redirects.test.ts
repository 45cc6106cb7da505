// Expectations of the Gateway API mesh conformance tests (conformance/tests/mesh:
// MeshHTTPRouteRedirectPath, MeshHTTPRouteRedirectPort, MeshHTTPRouteSchemeRedirect,
// MeshHTTPRouteRewritePath), replayed against the route plan. The echo Service listens on port 80.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRoutePlan } from './route-plan.js';
import { head, keys, tablesFor } from './route-fixtures.js';

const redirectRule = (prefix: string, redirect: string) => `
  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]
    filters: [{type: RequestRedirect, requestRedirect: ${redirect}}]`;

const yaml = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mesh-redirects, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:${[
    redirectRule('/original-prefix', '{path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}'),
    redirectRule('/full', '{path: {type: ReplaceFullPath, replaceFullPath: /full-path-replacement}}'),
    redirectRule('/path-and-host', '{hostname: example.org, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}'),
    redirectRule('/path-and-status', '{statusCode: 301, path: {type: ReplacePrefixMatch, replacePrefixMatch: /replacement-prefix}}'),
    redirectRule('/full-path-and-host', '{hostname: example.org, path: {type: ReplaceFullPath, replaceFullPath: /replacement-full}}'),
    redirectRule('/port', '{port: 8083}'),
    redirectRule('/port-and-host', '{hostname: example.org, port: 8083}'),
    redirectRule('/port-and-status', '{port: 8083, statusCode: 301}'),
    redirectRule('/port-and-host-and-status', '{port: 8083, hostname: example.org, statusCode: 302}'),
    redirectRule('/scheme', '{scheme: https}'),
    redirectRule('/scheme-and-host', '{scheme: https, hostname: example.org}'),
    redirectRule('/scheme-and-port', '{scheme: https, port: 8443}'),
    redirectRule('/temporary', '{statusCode: 307}'),
    redirectRule('/permanent', '{statusCode: 308}'),
    redirectRule('/see-other', '{statusCode: 303}'),
  ].join('')}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: mesh-rewrite, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: echo, port: 80}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /prefix/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /one}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /strip-prefix}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /full/one}}]
    filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplaceFullPath, replaceFullPath: /one}}}]
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /prefix/rewrite-path-and-modify-headers}}]
    filters:
    - {type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /prefix}}}
    - {type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: X-Header-Set, value: set-overwrites-values}]}}
    backendRefs: [{name: echo, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /host}}]
    filters: [{type: URLRewrite, urlRewrite: {hostname: one.example.org}}]
    backendRefs: [{name: echo, port: 80}]
`;

describe('mesh conformance: redirects', () => {
  const { tables, warnings } = tablesFor(yaml);
  const cases: [string, number, string][] = [
    ['/original-prefix/lemon', 302, 'http://echo/replacement-prefix/lemon'],
    ['/full/path/original', 302, 'http://echo/full-path-replacement'],
    ['/path-and-host', 302, 'http://example.org/replacement-prefix'],
    ['/path-and-status', 301, 'http://echo/replacement-prefix'],
    ['/full-path-and-host', 302, 'http://example.org/replacement-full'],
    ['/port', 302, 'http://echo:8083/port'],
    ['/port-and-host', 302, 'http://example.org:8083/port-and-host'],
    ['/port-and-status', 301, 'http://echo:8083/port-and-status'],
    ['/port-and-host-and-status', 302, 'http://example.org:8083/port-and-host-and-status'],
    ['/scheme', 302, 'https://echo/scheme'],
    ['/scheme-and-host', 302, 'https://example.org/scheme-and-host'],
    ['/scheme-and-port', 302, 'https://echo:8443/scheme-and-port'],
    ['/temporary', 307, 'http://echo/temporary'],
    ['/permanent', 308, 'http://echo/permanent'],
    ['/see-other?keep=1', 303, 'http://echo/see-other?keep=1'],
    ['/original-prefix/lemon?x=1', 302, 'http://echo/replacement-prefix/lemon?x=1'],
  ];
  it('compiles without warnings', () => assert.deepEqual(warnings, []));
  for (const [path, status, location] of cases) {
    it(`redirects ${path} with ${status} to ${location}`, () => {
      const p = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head(path, { authority: 'echo' }), random: () => 0 });
      assert.deepEqual(p.kind === 'redirect' ? [p.status, p.location] : p, [status, location]);
    });
  }
});

describe('mesh conformance: rewrites', () => {
  const { tables } = tablesFor(yaml);
  const cases: [string, string][] = [
    ['/prefix/one/two', '/one/two'],
    ['/strip-prefix/three', '/three'],
    ['/strip-prefix', '/'],
    ['/full/one/two', '/one'],
    ['/prefix/rewrite-path-and-modify-headers/one', '/prefix/one'],
    ['/strip-prefix/three?a=b', '/three?a=b'],
  ];
  for (const [path, want] of cases) {
    it(`forwards ${path} as ${want}`, () => {
      const p = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head(path, { authority: 'echo' }), random: () => 0 });
      assert.equal(p.kind === 'forward' ? p.rewrite?.path : p.kind, want);
    });
  }
  it('rewrites the authority with URLRewrite hostname and leaves the path alone', () => {
    const p = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/host/x'), random: () => 0 });
    assert.deepEqual(p.kind === 'forward' && p.rewrite, { authority: 'one.example.org' });
  });
});
