import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConfigError } from '../../shared/config/config-error.js';
import { DestinationRuleResolver, mergeTrafficPolicy } from './destination-rule-resolver.js';
import { buildRoutePlan } from './route-plan.js';
import { head, keys, meshIndex, resources, tablesFor } from './route-fixtures.js';
import { ServiceLookup } from './service-lookup.js';

const rule = (name: string, ns: string, host: string, policy: string) => `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: "${host}"
  trafficPolicy: {loadBalancer: {simple: ${policy}}}
  subsets: [{name: v1, labels: {version: v1}}]
---`;

function resolver(yaml: string): { r: DestinationRuleResolver; warnings: ConfigError[] } {
  const warnings: ConfigError[] = [];
  const r = new DestinationRuleResolver(resources(yaml).destinationRules, new ServiceLookup(meshIndex()), warnings);
  return { r, warnings };
}

describe('DestinationRuleResolver', () => {
  it('prefers an exact host over a wildcard, and a longer wildcard over a shorter one', () => {
    const { r } = resolver(rule('all', 'demo', '*.svc.cluster.local', 'RANDOM') + rule('ns', 'demo', '*.demo.svc.cluster.local', 'LEAST_REQUEST') + rule('exact', 'other', 'echo.demo.svc.cluster.local', 'ROUND_ROBIN'));
    assert.equal(r.ruleFor(keys.echo)?.meta.name, 'exact');
    assert.equal(r.ruleFor(keys.reviews)?.meta.name, 'ns');
    assert.equal(r.ruleFor(keys.ratings)?.meta.name, 'all');
  });

  it('prefers the rule in the Service\'s namespace among equals and warns about the other', () => {
    const { r, warnings } = resolver(rule('a-elsewhere', 'other', 'echo.demo', 'RANDOM') + rule('z-home', 'demo', 'echo', 'LEAST_REQUEST'));
    assert.equal(r.ruleFor(keys.echo)?.meta.name, 'z-home');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]?.name, 'a-elsewhere');
  });

  it('gives the top-level policy without a subset and an error for an unknown subset', () => {
    const { r } = resolver(rule('echo', 'demo', 'echo', 'RANDOM'));
    assert.deepEqual(r.resolve(keys.echo, 80), { trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } });
    assert.deepEqual(r.resolve(keys.echo, 80, 'v1'), { labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } });
    assert.ok('error' in r.resolve(keys.echo, 80, 'v7'));
    assert.deepEqual(r.resolve(keys.reviews, 9080), {});
  });

  it('merges a subset policy over the top-level one field by field', () => {
    assert.deepEqual(
      mergeTrafficPolicy({ loadBalancer: { simple: 'RANDOM' }, connectionPool: { tcp: { maxConnections: 5 } } }, { loadBalancer: { simple: 'LEAST_REQUEST' } }),
      { loadBalancer: { simple: 'LEAST_REQUEST' }, connectionPool: { tcp: { maxConnections: 5 } } },
    );
    assert.equal(mergeTrafficPolicy(undefined, undefined), undefined);
  });

  it('attaches the DestinationRule policy to HTTPRoute backends and to the default route', () => {
    const { tables } = tablesFor(rule('echo', 'demo', 'echo', 'LEAST_REQUEST') + `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: to-echo, namespace: demo}
spec:
  parentRefs: [{group: "", kind: Service, name: reviews}]
  rules: [{backendRefs: [{name: echo, port: 80}]}]
`);
    const viaRoute = buildRoutePlan(tables.get(keys.reviews), { port: 9080, head: head('/'), random: () => 0 });
    const viaDefault = buildRoutePlan(tables.get(keys.echo), { port: 80, head: head('/'), random: () => 0 });
    for (const p of [viaRoute, viaDefault]) {
      assert.deepEqual(p.kind === 'forward' && p.backend, { service: keys.echo, port: 80, trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } });
    }
  });
});
