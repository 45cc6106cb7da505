import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileModel } from '../config/compile-model.js';
import { decodeDocument, type Resource } from '../config/decode.js';
import { parseYamlDocuments } from '../config/yaml-documents.js';
import { evaluate, policiesFor, stringMatches, type L4Connection } from './evaluate.js';
import { cidrContains } from './ip-match.js';
import { parseCidr, type Cidr } from '../config/cidr.js';

const base = `apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: demo, labels: {app: db}}
spec: {containers: [{name: c, ports: [{containerPort: 5432}, {containerPort: 9090}]}]}
status: {podIP: 10.0.0.2}
`;

function setup(policiesYaml: string) {
  const { documents, errors } = parseYamlDocuments(`${base}---\n${policiesYaml}`, 'p.yaml');
  assert.deepEqual(errors, []);
  const resources: Resource[] = documents.flatMap((d) => {
    const r = decodeDocument(d.value, { source: 'p.yaml', document: d.index });
    assert.deepEqual(r.errors.map((e) => `${e.path}: ${e.reason}`), []);
    return r.resource ? [r.resource] : [];
  });
  const { model } = compileModel(resources, { trustDomain: 'cluster.local' });
  const all = new Map(model.authorizations.map((a) => [a.name, a]));
  const db = model.workloads.find((w) => w.name === 'db')!;
  return (conn: Partial<L4Connection>) => evaluate(policiesFor(all, db), { sourceIp: '10.0.0.9', destinationIp: '10.0.0.2', destinationPort: 5432, ...conn });
}

const web = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'web' };
const intruder = { trustDomain: 'cluster.local', namespace: 'other', serviceAccount: 'x' };

describe('L4 authorization evaluate()', () => {
  it('allows everything when no policy applies', () => {
    assert.equal(setup('apiVersion: v1\nkind: Namespace\nmetadata: {name: unrelated}\n')({}).allowed, true);
  });

  it('allows a matching principal on the allowed port and denies the rest (not_allowed)', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-web, namespace: demo}
spec:
  selector: {matchLabels: {app: db}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/web]}}], to: [{operation: {ports: ["5432"]}}]}]
`);
    assert.deepEqual(check({ sourceIdentity: web }), { allowed: true, policy: 'demo/db-web', dryRun: [] });
    assert.deepEqual(check({ sourceIdentity: intruder }), { allowed: false, reason: 'not_allowed', dryRun: [] });
    assert.equal(check({ sourceIdentity: web, destinationPort: 9090 }).allowed, false);
    assert.equal(check({}).allowed, false, 'plaintext has no principal');
  });

  it('denies first: a matching DENY wins over a matching ALLOW and names the policy', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: demo}
spec: {action: ALLOW, rules: [{}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-other-ns, namespace: demo}
spec: {action: DENY, rules: [{from: [{source: {notNamespaces: [demo]}}]}]}
`);
    assert.equal(check({ sourceIdentity: web }).allowed, true);
    assert.deepEqual(check({ sourceIdentity: intruder }), { allowed: false, reason: 'explicitly_denied', policy: 'demo/deny-other-ns', dryRun: [] });
  });

  it('matches ipBlocks, notIpBlocks and the L4 when keys', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: net, namespace: demo}
spec:
  action: ALLOW
  rules:
  - from: [{source: {ipBlocks: [10.0.0.0/24], notIpBlocks: [10.0.0.66]}}]
    when: [{key: destination.port, values: ["5432"]}, {key: source.namespace, notValues: [banned]}]
`);
    assert.equal(check({ sourceIp: '10.0.0.9' }).allowed, true);
    assert.equal(check({ sourceIp: '::ffff:10.0.0.9' }).allowed, true, 'IPv4-mapped peers match IPv4 blocks');
    assert.equal(check({ sourceIp: '10.0.0.66' }).allowed, false);
    assert.equal(check({ sourceIp: '10.0.1.9' }).allowed, false);
    assert.equal(check({ sourceIp: '10.0.0.9', destinationPort: 9090 }).allowed, false);
    assert.equal(check({ sourceIp: '10.0.0.9', sourceIdentity: { ...intruder, namespace: 'banned' } }).allowed, false);
  });

  it('fails closed on L7 fields: an ALLOW rule needing L7 never matches', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: get-only, namespace: demo}
spec: {action: ALLOW, rules: [{to: [{operation: {methods: [GET]}}]}]}
`);
    assert.equal(check({ sourceIdentity: web }).allowed, false);
  });

  it('fails closed on L7 fields: an L7-only DENY denies everything it selects', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-delete, namespace: demo}
spec: {action: DENY, rules: [{to: [{operation: {methods: [DELETE]}}]}]}
`);
    const d = check({ sourceIdentity: web });
    assert.equal(d.allowed, false);
    assert.equal(!d.allowed && d.policy, 'demo/no-delete');
  });

  it('keeps the L4 part of a mixed DENY rule', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mixed, namespace: demo}
spec: {action: DENY, rules: [{to: [{operation: {methods: [DELETE], ports: ["9090"]}}]}]}
`);
    assert.equal(check({ sourceIdentity: web, destinationPort: 9090 }).allowed, false);
    assert.equal(check({ sourceIdentity: web, destinationPort: 5432 }).allowed, true);
  });

  it('denies plaintext under STRICT PeerAuthentication and lets mTLS through', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: demo}
spec: {mtls: {mode: STRICT}}
`);
    assert.equal(check({}).allowed, false);
    assert.equal(check({ sourceIdentity: web }).allowed, true);
  });

  it('evaluates dry-run policies without enforcing them', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: trial, namespace: demo, annotations: {istio.io/dry-run: "true"}}
spec: {action: DENY, rules: [{from: [{source: {namespaces: [demo]}}]}]}
`);
    assert.deepEqual(check({ sourceIdentity: web }), { allowed: true, dryRun: [{ policy: 'demo/trial', action: 'DENY', matched: true }] });
  });

  it('fails closed when a policy named on the workload is missing', () => {
    const decision = evaluate(policiesFor(new Map(), { namespace: 'demo', authorizationPolicies: ['demo/gone'] }), { sourceIp: '10.0.0.1', destinationIp: '10.0.0.2', destinationPort: 80, sourceIdentity: web });
    assert.deepEqual(decision, { allowed: false, reason: 'explicitly_denied', policy: 'demo/gone', dryRun: [] });
  });

  it('an ALLOW policy with no rules allows nothing', () => {
    const check = setup(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nothing, namespace: demo}
spec: {action: ALLOW}
`);
    assert.equal(check({ sourceIdentity: web }).allowed, false);
  });

  it('matches strings and CIDRs the Istio way', () => {
    assert.ok(stringMatches('*', 'x'));
    assert.ok(!stringMatches('*', undefined));
    assert.ok(stringMatches('cluster.local/ns/demo/*', 'cluster.local/ns/demo/sa/web'));
    assert.ok(stringMatches('*/sa/web', 'cluster.local/ns/demo/sa/web'));
    assert.ok(!stringMatches('cluster.local/ns/demo', 'cluster.local/ns/demo/sa/web'));
    const c = (t: string) => parseCidr(t) as Cidr;
    assert.ok(cidrContains(c('fd00::/64'), 'fd00::1234'));
    assert.ok(!cidrContains(c('fd00::/64'), 'fd01::1'));
    assert.ok(cidrContains(c('10.1.2.3/8'), '10.200.0.1'), 'host bits of the block are masked');
    assert.ok(!cidrContains(c('10.0.0.0/8'), 'fd00::1'));
    assert.ok(cidrContains(c('0.0.0.0/0'), '1.2.3.4'));
  });
});
