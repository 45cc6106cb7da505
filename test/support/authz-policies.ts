// Test helpers for the waypoint's L7 authorization: AuthorizationPolicies decoded from YAML specs
// (namespace demo, named p0, p1, …; a spec starting with `#dry` gets istio.io/dry-run) and an
// HTTP request with defaults a test overrides field by field.
import { decodeDocument } from '../../shared/config/decode.js';
import type { AuthorizationPolicyResource } from '../../shared/config/security-resources.js';
import { parseYamlDocuments } from '../../shared/config/yaml-documents.js';
import type { HttpRequest } from '../../shared/authz/evaluate-http.js';

export function policies(...specs: string[]): { list: AuthorizationPolicyResource[]; errors: string[] } {
  const text = specs.map((s, i) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: p${i}, namespace: demo${s.startsWith('#dry') ? ', annotations: {istio.io/dry-run: "true"}' : ''}}\nspec:\n${s}`).join('\n---\n');
  const { documents } = parseYamlDocuments(text, 'p.yaml');
  const list: AuthorizationPolicyResource[] = [];
  const errors: string[] = [];
  for (const d of documents) {
    const r = decodeDocument(d.value, { source: 'p.yaml', document: d.index });
    errors.push(...r.errors.map((e) => `${e.path}: ${e.reason}`));
    if (r.resource) list.push(r.resource as AuthorizationPolicyResource);
  }
  return { list, errors };
}

export const webIdentity = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'web' };

export type RequestOverrides = Partial<Omit<HttpRequest, 'http'>> & { http?: Partial<HttpRequest['http']> };

export function request(over: RequestOverrides = {}): HttpRequest {
  const { http, ...rest } = over;
  return {
    sourceIdentity: webIdentity, sourceIp: '10.0.0.9', destinationIp: '10.96.0.10', destinationPort: 80,
    ...rest,
    http: { method: 'GET', path: '/', authority: 'echo.demo.svc.cluster.local', headers: [], ...http },
  };
}
