// Test support for waypoint/route: a small mesh (namespaces demo and other, Services echo, reviews
// and ratings) decoded from YAML by the real decoders, plus a seeded PRNG and request heads.
import assert from 'node:assert/strict';
import { compileModel } from '../../shared/config/compile-model.js';
import { decodeDocument, type Resource } from '../../shared/config/decode.js';
import { ModelIndex } from '../../shared/config/model-index.js';
import { groupWaypointResources, waypointResourceKinds, type WaypointResource, type WaypointResources } from '../../shared/config/waypoint-resources.js';
import { parseYamlDocuments } from '../../shared/config/yaml-documents.js';
import type { RequestHead } from '../../shared/http/request-head.js';
import { buildRouteTables, type RouteTables } from './route-table.js';
import { seededRandom } from '../../shared/seeded-random.js';

const mesh = `
apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Namespace
metadata: {name: other, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec: {clusterIP: 10.96.0.10, selector: {app: echo}, ports: [{name: http, port: 80, targetPort: 8080}, {name: alt, port: 8081, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: echo-v2, namespace: demo}
spec: {clusterIP: 10.96.0.11, selector: {app: echo, version: v2}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: demo}
spec: {clusterIP: 10.96.0.20, selector: {app: reviews}, ports: [{name: http, port: 9080, targetPort: 9080}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: other}
spec: {clusterIP: 10.96.0.30, selector: {app: ratings}, ports: [{name: http, port: 9080, targetPort: 9080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v1, namespace: demo, labels: {app: echo, version: v1}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.1}
---
apiVersion: v1
kind: Pod
metadata: {name: echo-v2, namespace: demo, labels: {app: echo, version: v2}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.2}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-v1, namespace: demo, labels: {app: reviews, version: v1}}
spec: {containers: [{name: c}]}
status: {podIP: 10.0.0.3}
`;

export const keys = {
  echo: 'demo/echo.demo.svc.cluster.local',
  echoV2: 'demo/echo-v2.demo.svc.cluster.local',
  reviews: 'demo/reviews.demo.svc.cluster.local',
  ratings: 'other/ratings.other.svc.cluster.local',
} as const;

function decodeAll(text: string, source: string): Resource[] {
  const { documents, errors } = parseYamlDocuments(text, source);
  assert.deepEqual(errors, []);
  return documents.flatMap((d) => {
    const r = decodeDocument(d.value, { source, document: d.index });
    assert.deepEqual(r.errors.map((e) => `${e.path}: ${e.reason}`), [], `decoding ${source}`);
    return r.resource ? [r.resource] : [];
  });
}

let cachedIndex: ModelIndex | undefined;

export function meshIndex(): ModelIndex {
  if (!cachedIndex) {
    const { model } = compileModel(decodeAll(mesh, 'mesh.yaml'), { trustDomain: 'cluster.local' });
    cachedIndex = new ModelIndex(model);
  }
  return cachedIndex;
}

/** Decodes routing YAML (it must decode without errors) into WaypointResources. */
export function resources(yaml: string): WaypointResources {
  return groupWaypointResources(decodeAll(yaml, 'routes.yaml').filter((r): r is WaypointResource => waypointResourceKinds.has(r.kind)));
}

export function tablesFor(yaml: string): RouteTables {
  return buildRouteTables(resources(yaml), meshIndex());
}

export function head(path: string, opts: { method?: string; authority?: string; headers?: [string, string][] } = {}): RequestHead {
  return { method: opts.method ?? 'GET', path, authority: opts.authority ?? 'echo.demo:80', headers: opts.headers ?? [] };
}

/** A seeded PRNG (upstream/seeded-random.ts), so a statistical test is exact and reproducible. */
export const seeded = seededRandom;

/** Half-width of a ±4σ band for a binomial count: 4·sqrt(n·p·(1−p)). */
export function fourSigma(n: number, p: number): number {
  return 4 * Math.sqrt(n * p * (1 - p));
}
