import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { l7FieldsOf, ruleNeedsL7 } from './authz-fields.js';
import type { ConfigError } from './config-error.js';
import { errorSink, FieldReader } from './field-reader.js';
import type { ObjectMeta } from './resources.js';
import { securityDecoders } from './security-decoders.js';
import type { AuthorizationPolicyResource, PeerAuthenticationResource, RequestAuthenticationResource, SecurityResource } from './security-resources.js';
import { parseYamlDocuments } from './yaml-documents.js';

/** YAML → FieldReader → the kind's decoder, as decode.ts will do; errors as [path, reason]. */
function decode(text: string): { resource: SecurityResource | undefined; errors: [string, string][] } {
  const { documents, errors: parseErrors } = parseYamlDocuments(text, 'security.yaml');
  assert.deepEqual(parseErrors, []);
  const errors: ConfigError[] = [];
  const doc = new FieldReader(documents[0]!.value as Record<string, unknown>, '', errorSink(errors, { source: 'security.yaml' }));
  const decoder = securityDecoders[doc.string('kind')!]!;
  assert.ok(decoder.apiVersions.includes(doc.string('apiVersion')!), 'apiVersion accepted');
  const m = doc.object('metadata')!;
  const meta: ObjectMeta = { name: m.string('name')!, namespace: m.string('namespace') ?? 'default', labels: m.stringMap('labels'), annotations: m.stringMap('annotations') };
  const resource = decoder.decode(doc, meta);
  return { resource, errors: errors.map((e) => [e.path, e.reason]) };
}

const policy = (spec: string, extra = ''): string =>
  `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p, namespace: foo${extra}}\nspec:\n${spec}`;

function authz(text: string) {
  const { resource, errors } = decode(text);
  return { policy: resource as AuthorizationPolicyResource | undefined, errors };
}

describe('AuthorizationPolicy decoding', () => {
  it('decodes allow-nothing (spec: {}) as an ALLOW policy with no rules, which matches nothing', () => {
    const { policy: p, errors } = authz(policy('  {}\n'));
    assert.deepEqual(errors, []);
    assert.equal(p!.spec.action, 'ALLOW');
    assert.deepEqual(p!.spec.rules, []);
    assert.equal(p!.spec.selector, undefined);
    assert.equal(p!.spec.dryRun, false);
  });

  it('decodes rules: [] the same as no rules', () => {
    const { policy: p, errors } = authz(policy('  rules: []\n'));
    assert.deepEqual(errors, []);
    assert.deepEqual(p!.spec.rules, []);
  });

  it('decodes deny-all (rules: [{}]) as one valid rule with no constraints, which matches everything', () => {
    const { policy: p, errors } = authz(policy('  action: DENY\n  rules: [{}]\n'));
    assert.deepEqual(errors, []);
    assert.deepEqual(p!.spec.rules, [{ from: [], to: [], when: [], valid: true }]);
    assert.equal(ruleNeedsL7(p!.spec.rules[0]!), false);
  });

  it('decodes the httpbin example from the Istio docs with its L7 fields', () => {
    const { policy: p, errors } = authz(
      policy(`  selector: {matchLabels: {app: httpbin, version: v1}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/sleep"]}
    - source: {namespaces: ["test"]}
    to:
    - operation: {methods: ["GET"], paths: ["/info*"]}
    - operation: {methods: ["POST"], paths: ["/data"]}
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
`),
    );
    assert.deepEqual(errors, []);
    const s = p!.spec;
    assert.deepEqual({ ...s.selector!.matchLabels }, { app: 'httpbin', version: 'v1' });
    const rule = s.rules[0]!;
    assert.equal(rule.valid, true);
    assert.deepEqual(rule.from.map((f) => [f.principals, f.namespaces]), [[['cluster.local/ns/default/sa/sleep'], []], [[], ['test']]]);
    assert.deepEqual(rule.to.map((t) => [t.methods, t.paths]), [[['GET'], ['/info*']], [['POST'], ['/data']]]);
    assert.deepEqual(rule.when, [{ key: 'request.auth.claims[iss]', values: ['https://accounts.google.com'], notValues: [] }]);
    assert.equal(ruleNeedsL7(rule), true);
    assert.deepEqual(l7FieldsOf(rule), ['methods', 'paths', 'request.auth.claims[iss]']);
  });

  it('decodes an ambient L4 policy (principals, ports, ipBlocks, L4 when keys) that ztunnel can enforce', () => {
    const { policy: p, errors } = authz(
      policy(`  selector: {matchLabels: {app: productpage}}
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/curl"]
        notIpBlocks: ["10.1.0.0/16", "2001:db8::/32", "192.168.1.7"]
    to:
    - operation: {ports: ["9080", "15021"]}
    when:
    - {key: destination.port, values: ["9080"]}
    - {key: source.ip, notValues: ["10.2.0.0/24"]}
`),
    );
    assert.deepEqual(errors, []);
    const rule = p!.spec.rules[0]!;
    assert.deepEqual(rule.from[0]!.notIpBlocks, [
      { text: '10.1.0.0/16', address: '10.1.0.0', family: 4, prefixLength: 16 },
      { text: '2001:db8::/32', address: '2001:db8::', family: 6, prefixLength: 32 },
      { text: '192.168.1.7', address: '192.168.1.7', family: 4, prefixLength: 32 },
    ]);
    assert.deepEqual(rule.to[0]!.ports, [9080, 15021]);
    assert.equal(ruleNeedsL7(rule), false);
  });

  it('marks requestPrincipals, remoteIpBlocks, hosts and non-L4 when keys as L7-only', () => {
    const { policy: p } = authz(
      policy(`  rules:
  - from: [{source: {requestPrincipals: ["*"], notRemoteIpBlocks: ["1.2.3.4"]}}]
  - to: [{operation: {notHosts: ["a.example.com"]}}]
  - when: [{key: connection.sni, values: ["a.example.com"]}]
  - when: [{key: source.namespace, values: ["foo"]}]
`),
    );
    assert.deepEqual(p!.spec.rules.map(l7FieldsOf), [['notRemoteIpBlocks', 'requestPrincipals'], ['notHosts'], ['connection.sni'], []]);
  });

  it('decodes a waypoint policy with targetRefs (Istio docs) and accepts v1beta1', () => {
    const { policy: p, errors } = authz(`apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: productpage-viewer, namespace: default}
spec:
  targetRefs:
  - {kind: Service, group: "", name: productpage}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/curl"]}}]
    to: [{operation: {methods: ["GET"]}}]
`);
    assert.deepEqual(errors, []);
    assert.deepEqual(p!.spec.targetRefs, [{ group: '', kind: 'Service', name: 'productpage' }]);
    assert.equal(p!.spec.selector, undefined);
  });

  it('merges the deprecated singular targetRef into targetRefs', () => {
    const { policy: p, errors } = authz(policy('  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}\n  rules: [{}]\n'));
    assert.deepEqual(errors, []);
    assert.deepEqual(p!.spec.targetRefs, [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }]);
  });

  it('reads the istio.io/dry-run annotation as a boolean the way istiod does (Go ParseBool)', () => {
    for (const [text, want] of [['"true"', true], ['"1"', true], ['"False"', false]] as const) {
      const { policy: p, errors } = authz(policy('  action: DENY\n  rules: [{}]\n', `, annotations: {istio.io/dry-run: ${text}}`));
      assert.deepEqual(errors, []);
      assert.equal(p!.spec.dryRun, want);
    }
  });

  it('decodes serviceAccounts (sa and ns/sa forms)', () => {
    const { policy: p, errors } = authz(policy('  rules: [{from: [{source: {serviceAccounts: ["curl", "other/client"]}}]}]\n'));
    assert.deepEqual(errors, []);
    assert.deepEqual(p!.spec.rules[0]!.from[0]!.serviceAccounts, ['curl', 'other/client']);
  });
});

describe('AuthorizationPolicy validation', () => {
  it('reports each bad CIDR at its exact path and invalidates only that rule', () => {
    const { policy: p, errors } = authz(
      policy(`  rules:
  - from: [{source: {ipBlocks: ["10.0.0.0/33", "1.2.3.4/x", "300.1.1.1", "10.0.0.0/8"]}}]
  - from: [{source: {ipBlocks: ["10.0.0.0/8"]}}]
`),
    );
    assert.deepEqual(errors, [
      ['spec.rules[0].from[0].source.ipBlocks[0]', '"10.0.0.0/33" is not a valid CIDR block (prefix length 33 exceeds 32 for IPv4)'],
      ['spec.rules[0].from[0].source.ipBlocks[1]', '"1.2.3.4/x" is not a valid CIDR block (prefix length "x" is not a number)'],
      ['spec.rules[0].from[0].source.ipBlocks[2]', '"300.1.1.1" is not an IP address or CIDR block (bad address "300.1.1.1")'],
    ]);
    // Rule 0 lost entries, so it must never be matched as written; rule 1 is untouched.
    assert.deepEqual(p!.spec.rules.map((r) => r.valid), [false, true]);
  });

  it('reports IPv6 prefixes over 128 and zoned addresses', () => {
    const { errors } = authz(policy('  rules: [{from: [{source: {notIpBlocks: ["2001:db8::/129", "fe80::1%eth0"]}}]}]\n'));
    assert.deepEqual(errors.map((e) => e[0]), ['spec.rules[0].from[0].source.notIpBlocks[0]', 'spec.rules[0].from[0].source.notIpBlocks[1]']);
    assert.match(errors[0]![1], /prefix length 129 exceeds 128 for IPv6/);
  });

  it('reports ports that are out of range, not numeric, or not strings', () => {
    const { policy: p, errors } = authz(policy('  rules: [{to: [{operation: {ports: ["0", "65536", "http", 8080], notPorts: ["-1"]}}]}]\n'));
    assert.deepEqual(errors, [
      ['spec.rules[0].to[0].operation.ports[0]', 'port 0 is not between 1 and 65535'],
      ['spec.rules[0].to[0].operation.ports[1]', 'port 65536 is not between 1 and 65535'],
      ['spec.rules[0].to[0].operation.ports[2]', '"http" is not a port number'],
      ['spec.rules[0].to[0].operation.ports[3]', 'must be a string, got number 8080 (quote it: "8080")'],
      ['spec.rules[0].to[0].operation.notPorts[0]', '"-1" is not a port number'],
    ]);
    assert.equal(p!.spec.rules[0]!.valid, false);
  });

  it('rejects an unknown action and returns no policy', () => {
    const { policy: p, errors } = authz(policy('  action: ALLOWED\n  rules: [{}]\n'));
    assert.equal(p, undefined);
    assert.deepEqual(errors, [['spec.action', '"ALLOWED" is not one of ALLOW, DENY, AUDIT, CUSTOM']]);
  });

  it('decodes CUSTOM but marks it unsupported with an error', () => {
    const { policy: p, errors } = authz(policy('  action: CUSTOM\n  provider: {name: my-ext-authz}\n  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]\n'));
    assert.equal(p!.spec.action, 'CUSTOM');
    assert.equal(p!.spec.provider, 'my-ext-authz');
    assert.equal(p!.spec.supported, false);
    assert.deepEqual(errors, [['spec.action', 'CUSTOM (external authorization) is not supported by Ambit; the policy is not enforced']]);
  });

  it('reports a CUSTOM policy without a provider and a provider on a non-CUSTOM policy', () => {
    assert.deepEqual(authz(policy('  action: CUSTOM\n  rules: [{}]\n')).errors[1], ['spec.provider.name', 'is required with action CUSTOM']);
    assert.deepEqual(authz(policy('  provider: {name: x}\n  rules: [{}]\n')).errors, [['spec.provider', 'must only be set with action CUSTOM, found ALLOW']]);
  });

  it('reports a DENY policy without rules, which would never match', () => {
    const { policy: p, errors } = authz(policy('  action: DENY\n'));
    assert.deepEqual(errors, [['spec.rules', 'a DENY policy without rules never matches; add an empty rule `{}` to deny every request']]);
    assert.deepEqual(p!.spec.rules, []);
  });

  it('reports an unknown when key as an error for that rule only', () => {
    const { policy: p, errors } = authz(
      policy(`  rules:
  - when: [{key: source.workload, values: ["x"]}]
  - when: [{key: "request.headers[x-user]", values: ["alice"]}]
  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}]
`),
    );
    assert.deepEqual(errors, [['spec.rules[0].when[0].key', 'unknown condition key "source.workload" (see https://istio.io/latest/docs/reference/config/security/conditions/)']]);
    assert.deepEqual(p!.spec.rules.map((r) => r.valid), [false, true, true]);
  });

  it('validates when keys and values the way Istio does', () => {
    const { errors } = authz(
      policy(`  rules:
  - when:
    - {key: "request.headers[]", values: ["x"]}
    - {key: destination.namespace, values: ["x"]}
    - {key: "destination.labels[app]", values: ["x"]}
    - {key: destination.port, values: ["80", "99999"]}
    - {key: source.ip, notValues: ["10.0.0.0/40"]}
    - {key: source.serviceAccount, values: ["a/b/c"]}
    - {key: source.principal}
`),
    );
    assert.deepEqual(errors, [
      ['spec.rules[0].when[0].key', 'key "request.headers[]" must have the form request.headers[name]'],
      ['spec.rules[0].when[1].key', 'key "destination.namespace" is replaced by the policy namespace (metadata.namespace)'],
      ['spec.rules[0].when[2].key', 'key "destination.labels[app]" is replaced by the workload selector'],
      ['spec.rules[0].when[3].values[1]', 'port 99999 is not between 1 and 65535'],
      ['spec.rules[0].when[4].notValues[0]', '"10.0.0.0/40" is not a valid CIDR block (prefix length 40 exceeds 32 for IPv4)'],
      ['spec.rules[0].when[5].values[0]', '"a/b/c" is not of the form serviceAccount or namespace/serviceAccount'],
      ['spec.rules[0].when[6]', 'at least one of values or notValues must be set for key "source.principal"'],
    ]);
  });

  it('rejects selector and targetRefs together and returns no policy', () => {
    const { policy: p, errors } = authz(policy('  selector: {matchLabels: {app: a}}\n  targetRefs: [{kind: Service, group: "", name: a}]\n  rules: [{}]\n'));
    assert.equal(p, undefined);
    assert.deepEqual(errors, [['spec.targetRefs', 'only one of selector, targetRef or targetRefs may be set']]);
  });

  it('rejects the policy when a selector label is bad, rather than widening the selector', () => {
    const { policy: p, errors } = authz(policy('  selector: {matchLabels: {app: "not a label!"}}\n  rules: [{}]\n'));
    assert.equal(p, undefined);
    assert.deepEqual(errors, [['spec.selector.matchLabels.app', 'is not a valid Kubernetes label']]);
  });

  it('reports targetRefs to unsupported kinds and to other namespaces, and rejects the policy', () => {
    const { policy: p, errors } = authz(
      policy('  targetRefs:\n  - {kind: Pod, group: "", name: a}\n  - {kind: Service, group: "", name: b, namespace: bar}\n  - {kind: Service, group: "", name: c, namespace: foo}\n  rules: [{}]\n'),
    );
    assert.deepEqual(errors, [
      ['spec.targetRefs[0].kind', '"/Pod" cannot be a target (allowed: Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway, gateway.networking.k8s.io/GatewayClass)'],
      ['spec.targetRefs[1].namespace', 'cross-namespace targets are not supported; leave namespace unset'],
    ]);
    assert.equal(p, undefined);
    const ok = authz(policy('  targetRefs: [{kind: Service, group: "", name: c, namespace: foo}]\n  rules: [{}]\n'));
    assert.deepEqual(ok.policy!.spec.targetRefs, [{ group: '', kind: 'Service', name: 'c', namespace: 'foo' }]);
  });

  it('reports empty from/to lists, empty sources and empty values', () => {
    const { policy: p, errors } = authz(policy('  rules:\n  - from: []\n  - to: [{operation: {}}]\n  - from: [{source: {principals: [""]}}]\n  - from: [{}]\n'));
    assert.deepEqual(errors, [
      ['spec.rules[0].from', 'must not be empty (omit `from` to match any source)'],
      ['spec.rules[1].to[0].operation', 'must set at least one field (omit `to` to match any operation)'],
      ['spec.rules[2].from[0].source.principals[0]', 'must not be empty'],
      ['spec.rules[3].from[0].source', 'is required'],
    ]);
    assert.ok(p!.spec.rules.every((r) => !r.valid));
  });

  it('reports a misspelt field instead of silently widening the rule', () => {
    const { policy: p, errors } = authz(policy('  rules: [{from: [{source: {principal: ["cluster.local/ns/a/sa/b"]}}]}]\n'));
    assert.equal(errors[0]![0], 'spec.rules[0].from[0].source.principal');
    assert.match(errors[0]![1], /^unknown field \(known: principals, /);
    assert.equal(p!.spec.rules[0]!.valid, false);
  });

  it('reports serviceAccounts mixed with namespaces, and bad path templates', () => {
    const { errors } = authz(
      policy('  rules:\n  - from: [{source: {serviceAccounts: ["a"], namespaces: ["b"]}}]\n  - to: [{operation: {paths: ["/a/{**}/b/{*}", "/x/{y}"]}}]\n'),
    );
    assert.deepEqual(errors, [
      ['spec.rules[0].from[0].source.serviceAccounts', 'cannot be combined with principals or namespaces'],
      ['spec.rules[1].to[0].operation.paths[0]', '"/a/{**}/b/{*}": {**} must be the last operator in a path template'],
      ['spec.rules[1].to[0].operation.paths[1]', `"/x/{y}": '{' or '}' outside a {*} or {**} template`],
    ]);
  });

  it('reports a dry-run annotation that is not a boolean, or on a CUSTOM policy', () => {
    assert.deepEqual(authz(policy('  rules: [{}]\n', ', annotations: {istio.io/dry-run: "yes"}')).errors, [
      ['metadata.annotations.istio.io/dry-run', '"yes" is not a boolean (true or false)'],
    ]);
    const custom = authz(policy('  action: AUDIT\n  rules: [{}]\n', ', annotations: {istio.io/dry-run: "true"}'));
    assert.deepEqual(custom.errors, [['metadata.annotations.istio.io/dry-run', 'is only supported with action ALLOW or DENY, found AUDIT']]);
    assert.equal(custom.policy!.spec.dryRun, false);
  });

  it('reports a missing spec', () => {
    const { policy: p, errors } = authz('apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p}\n');
    assert.equal(p, undefined);
    assert.deepEqual(errors, [['spec', 'is required']]);
  });
});

const peer = (spec: string, extra = ''): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: pa, namespace: foo${extra}}\nspec:\n${spec}`;

describe('PeerAuthentication', () => {
  it('decodes namespace-wide STRICT and a workload policy with port-level PERMISSIVE (Istio docs)', () => {
    const ns = decode(peer('  mtls: {mode: STRICT}\n'));
    assert.deepEqual(ns.errors, []);
    assert.equal((ns.resource as PeerAuthenticationResource).spec.mtlsMode, 'STRICT');
    const wl = decode(peer('  selector: {matchLabels: {app: finance}}\n  mtls: {mode: STRICT}\n  portLevelMtls:\n    8080: {mode: PERMISSIVE}\n    "9090": {mode: DISABLE}\n'));
    assert.deepEqual(wl.errors, []);
    const spec = (wl.resource as PeerAuthenticationResource).spec;
    assert.deepEqual([...spec.portLevelMtls], [[8080, 'PERMISSIVE'], [9090, 'DISABLE']]);
  });

  it('defaults the mode to UNSET (inherit)', () => {
    const { resource } = decode(peer('  selector: {matchLabels: {app: a}}\n'));
    assert.equal((resource as PeerAuthenticationResource).spec.mtlsMode, 'UNSET');
  });

  it('rejects an unknown mode and returns nothing', () => {
    const { resource, errors } = decode(peer('  mtls: {mode: STRCT}\n'));
    assert.equal(resource, undefined);
    assert.deepEqual(errors, [['spec.mtls.mode', '"STRCT" is not one of UNSET, DISABLE, PERMISSIVE, STRICT']]);
  });

  it('reports portLevelMtls keys that are not port numbers and bad port modes', () => {
    const { resource, errors } = decode(
      peer('  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    http: {mode: STRICT}\n    0: {mode: STRICT}\n    70000: {mode: STRICT}\n    8080: {mode: strict}\n    8443: {mode: STRICT}\n'),
    );
    assert.deepEqual(errors, [
      ['spec.portLevelMtls.0', 'key port 0 is not between 1 and 65535'],
      ['spec.portLevelMtls.8080.mode', '"strict" is not one of UNSET, DISABLE, PERMISSIVE, STRICT'],
      ['spec.portLevelMtls.70000', 'key port 70000 is not between 1 and 65535'],
      ['spec.portLevelMtls.http', 'key "http" is not a port number'],
    ]);
    assert.deepEqual([...(resource as PeerAuthenticationResource).spec.portLevelMtls], [[8443, 'STRICT']]);
  });

  it('reports portLevelMtls on a namespace-wide policy and the dry-run annotation', () => {
    const { errors } = decode(peer('  portLevelMtls: {8080: {mode: DISABLE}}\n', ', annotations: {istio.io/dry-run: "true"}'));
    assert.deepEqual(errors, [
      ['metadata.annotations.istio.io/dry-run', 'is only supported on AuthorizationPolicy; remove it'],
      ['spec.portLevelMtls', 'is only allowed with a selector with matchLabels (not on mesh or namespace policies)'],
    ]);
  });
});

const reqAuthn = (rules: string): string =>
  `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ra, namespace: foo}\nspec:\n  selector: {matchLabels: {app: httpbin}}\n  jwtRules:\n${rules}`;

describe('RequestAuthentication', () => {
  it('decodes the Istio docs example with every JWT rule field', () => {
    const { resource, errors } = decode(
      reqAuthn(`  - issuer: "issuer-foo"
    jwksUri: https://example.com/.well-known/jwks.json
    audiences: [bookstore_android.apps.example.com]
    fromHeaders: [{name: x-jwt-assertion, prefix: "Bearer "}]
    fromParams: [my_token]
    fromCookies: [session]
    outputPayloadToHeader: x-jwt-payload
    forwardOriginalToken: true
    outputClaimToHeaders: [{header: x-jwt-sub, claim: sub}]
  - issuer: issuer-bar
    jwks: '{"keys": []}'
`),
    );
    assert.deepEqual(errors, []);
    const [foo, bar] = (resource as RequestAuthenticationResource).spec.jwtRules;
    assert.deepEqual(foo, {
      issuer: 'issuer-foo',
      audiences: ['bookstore_android.apps.example.com'],
      jwksUri: 'https://example.com/.well-known/jwks.json',
      fromHeaders: [{ name: 'x-jwt-assertion', prefix: 'Bearer ' }],
      fromParams: ['my_token'],
      fromCookies: ['session'],
      outputPayloadToHeader: 'x-jwt-payload',
      forwardOriginalToken: true,
      outputClaimToHeaders: [{ header: 'x-jwt-sub', claim: 'sub' }],
    });
    assert.equal(bar!.jwks, '{"keys": []}');
    assert.equal(bar!.forwardOriginalToken, false);
  });

  it('accepts http jwksUri for loopback hosts only', () => {
    for (const uri of ['http://127.0.0.1:8080/jwks', 'http://localhost/jwks', 'http://[::1]/jwks']) {
      assert.deepEqual(decode(reqAuthn(`  - {issuer: a, jwksUri: "${uri}"}\n`)).errors, [], uri);
    }
  });

  it('reports and drops bad JWT rules, keeping the good ones', () => {
    const { resource, errors } = decode(
      reqAuthn(`  - {jwksUri: "https://a.example/jwks"}
  - {issuer: b, jwksUri: "https://b.example/jwks", jwks: '{"keys": []}'}
  - {issuer: c, jwksUri: "http://c.example/jwks"}
  - {issuer: d, jwksUri: "ftp://d.example/jwks"}
  - {issuer: e, jwks: "not json"}
  - {issuer: f, outputClaimToHeaders: [{header: "x user", claim: sub}], fromHeaders: [{prefix: "Bearer "}]}
  - {issuer: ok}
`),
    );
    assert.deepEqual(errors.slice(0, 5), [
      ['spec.jwtRules[0].issuer', 'is required'],
      ['spec.jwtRules[1].jwksUri', 'must not be set together with jwks'],
      ['spec.jwtRules[2].jwksUri', 'must use https (http is only allowed for a loopback host)'],
      ['spec.jwtRules[3].jwksUri', 'scheme "ftp" is not supported (use https)'],
      ['spec.jwtRules[4].jwks', errors[4]![1]],
    ]);
    assert.match(errors[4]![1], /^is not valid JSON: /);
    assert.deepEqual(errors.slice(5), [
      ['spec.jwtRules[5].fromHeaders[0].name', 'is required'],
      ['spec.jwtRules[5].outputClaimToHeaders[0].header', '"x user" is not a valid header name ([-_A-Za-z0-9]+)'],
    ]);
    assert.deepEqual((resource as RequestAuthenticationResource).spec.jwtRules.map((r) => r.issuer), ['ok']);
  });

  it('rejects selector together with targetRefs', () => {
    const { resource, errors } = decode(
      'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: ra}\nspec:\n  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n',
    );
    assert.equal(resource, undefined);
    assert.deepEqual(errors, [['spec.targetRef', 'only one of selector, targetRef or targetRefs may be set']]);
  });
});
