import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../seeded-random.js';
import { formatConfigError } from './config-error.js';
import { compileModel } from './compile-model.js';
import { ConfigStore, diffModels, type ModelDelta } from './config-store.js';
import { ModelIndex } from './model-index.js';
import { resourceKey } from './resource-set.js';
import { waypointResourceKinds } from './waypoint-resources.js';
import type { MeshModel } from './model.js';

// Property: after any sequence of edits, the incrementally maintained model (ConfigStore →
// ResourceSet changes → ModelCompiler → ModelIndexUpdater) is exactly what a from-scratch
// compileModel() of the resolved resources gives — same JSON, same warnings, same errors, an
// index equal to a fresh ModelIndex — and each published delta is exactly the difference.

/** A seeded PRNG (shared/seeded-random.ts), so a failure names a seed that reproduces it. */
const rng = seededRandom;

type Doc = Record<string, unknown>;

class World {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = rng(seed);
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  /** A few labels from a small vocabulary, so selectors overlap and collide. */
  labels(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.chance(0.85)) out.app = this.pick(['a', 'b', 'c']);
    if (this.chance(0.5)) out.version = this.pick(['v1', 'v2']);
    if (this.chance(0.1)) out['istio.io/dataplane-mode'] = this.pick(['none', 'ambient']);
    return out;
  }

  selector(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.chance(0.9)) out.app = this.pick(['a', 'b', 'c']);
    if (this.chance(0.3)) out.version = this.pick(['v1', 'v2']);
    return out;
  }

  namespace(): string {
    return this.pick(['ns-a', 'ns-b', 'istio-system']);
  }

  /** A random version of one object from a fixed set of names (so edits replace and collide). */
  object(): Doc {
    const kind = this.pick(['Namespace', 'Pod', 'Pod', 'Pod', 'Pod', 'Service', 'Service', 'EndpointSlice', 'EndpointSlice', 'AuthorizationPolicy', 'AuthorizationPolicy', 'PeerAuthentication', 'Gateway']);
    const ns = this.namespace();
    switch (kind) {
      case 'Namespace': {
        const labels: Record<string, string> = this.chance(0.7) ? { 'istio.io/dataplane-mode': 'ambient' } : this.chance(0.5) ? { team: 'x' } : {};
        return { apiVersion: 'v1', kind, metadata: { name: ns, labels } };
      }
      case 'Pod': {
        const ports = this.chance(0.2) ? [] : [{ name: 'http', containerPort: this.pick([8080, 8081]) }, ...(this.chance(0.4) ? [{ name: 'grpc', containerPort: 9090 }] : [])];
        const hostNetwork = this.chance(0.08);
        const status: Doc = {};
        if (this.chance(0.9)) status.podIP = `10.0.0.${1 + Math.floor(this.random() * 6)}`; // few IPs: some pods share one
        if (this.chance(0.1)) status.phase = this.pick(['Succeeded', 'Failed', 'Running']);
        if (this.chance(0.2)) status.conditions = [{ type: 'Ready', status: this.pick(['True', 'False']) }];
        return {
          apiVersion: 'v1', kind, metadata: { name: `p${Math.floor(this.random() * 14)}`, namespace: ns, labels: this.labels() },
          spec: { ...(this.chance(0.8) ? { nodeName: this.pick(['n1', 'n2']) } : {}), serviceAccountName: this.pick(['sa1', 'sa2']), hostNetwork, containers: [{ name: 'c', ports }] },
          status,
        };
      }
      case 'Service': {
        const type = this.chance(0.08) ? 'ExternalName' : 'ClusterIP';
        const spec: Doc = {
          type,
          clusterIP: this.chance(0.2) ? 'None' : `10.96.0.${1 + Math.floor(this.random() * 4)}`,
          ports: this.chance(0.5)
            ? [{ name: 'http', port: 80, targetPort: this.pick(['http', 8080, 'grpc']) }]
            : [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP' }, { name: 'grpc', port: 90, targetPort: 'grpc' }],
        };
        if (type === 'ExternalName') spec.externalName = 'example.com';
        if (this.chance(0.6)) spec.selector = this.selector(); // else endpoints from EndpointSlices
        return { apiVersion: 'v1', kind, metadata: { name: `s${Math.floor(this.random() * 5)}`, namespace: ns }, spec };
      }
      case 'EndpointSlice': {
        // Endpoints that target pods (known or not) or bare IPs (some shared, some repeated).
        const endpoints = Array.from({ length: Math.floor(this.random() * 4) }, () => {
          const e: Doc = { addresses: [this.chance(0.5) ? `10.0.0.${1 + Math.floor(this.random() * 6)}` : `10.1.0.${1 + Math.floor(this.random() * 3)}`] };
          if (this.chance(0.5)) e.targetRef = { kind: 'Pod', name: `p${Math.floor(this.random() * 14)}`, ...(this.chance(0.2) ? { namespace: this.namespace() } : {}) };
          if (this.chance(0.4)) e.conditions = { ready: this.chance(0.6) };
          if (this.chance(0.5)) e.nodeName = this.pick(['n1', 'n2']);
          return e;
        });
        const ports = this.pick([
          [{ name: 'http', port: this.pick([8080, 8081]), protocol: 'TCP' }],
          [{ name: '', port: 7000 }],
          [{ name: 'http', port: 8080 }, { name: 'grpc', port: 9090 }, { name: 'dns', port: 53, protocol: 'UDP' }],
          [{ name: 'grpc', port: 9091 }, { name: 'other' }],
        ]);
        const labels: Record<string, string> = this.chance(0.9) ? { 'kubernetes.io/service-name': `s${Math.floor(this.random() * 5)}` } : {};
        return {
          apiVersion: this.pick(['discovery.k8s.io/v1', 'discovery.k8s.io/v1beta1']), kind,
          metadata: { name: `es${Math.floor(this.random() * 4)}`, namespace: ns, labels },
          addressType: this.chance(0.1) ? 'FQDN' : 'IPv4',
          endpoints: endpoints.map((e) => (e.addresses as string[])[0]!.startsWith('10.') && this.chance(0.05) ? { ...e, addresses: ['db.example.com'] } : e),
          ports,
        };
      }
      case 'AuthorizationPolicy': {
        const spec: Doc = {};
        if (this.chance(0.7)) spec.selector = { matchLabels: this.selector() };
        else if (this.chance(0.2)) spec.targetRefs = [{ kind: 'Service', group: '', name: 's0' }];
        const action = this.pick(['ALLOW', 'ALLOW', 'ALLOW', 'DENY', 'DENY', 'AUDIT', 'CUSTOM']);
        spec.action = action;
        if (action === 'CUSTOM') spec.provider = { name: 'ext' };
        spec.rules = [{
          from: [{ source: { namespaces: [this.namespace()] } }],
          to: [{ operation: { ports: [this.pick(['8080', '9090', '1234'])], ...(this.chance(0.15) ? { methods: ['GET'] } : {}) } }],
        }];
        return { apiVersion: 'security.istio.io/v1', kind, metadata: { name: `ap${Math.floor(this.random() * 6)}`, namespace: ns }, spec };
      }
      case 'PeerAuthentication': {
        const spec: Doc = { mtls: { mode: this.pick(['STRICT', 'PERMISSIVE', 'UNSET', 'DISABLE']) } };
        if (this.chance(0.4)) {
          spec.selector = { matchLabels: this.selector() };
          if (this.chance(0.5)) spec.portLevelMtls = { [this.pick(['8080', '9090'])]: { mode: this.pick(['STRICT', 'PERMISSIVE', 'DISABLE']) } };
        }
        return { apiVersion: 'security.istio.io/v1', kind, metadata: { name: `pa${Math.floor(this.random() * 3)}`, namespace: ns }, spec };
      }
      default: {
        return {
          apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway',
          metadata: { name: `gw${Math.floor(this.random() * 3)}`, namespace: ns, annotations: { 'istio.io/for-service-account': this.pick(['sa1', 'sa2']) } },
          spec: { gatewayClassName: this.chance(0.9) ? 'istio-waypoint' : 'other', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
        };
      }
    }
  }
}

const keyOf = (d: Doc): string => {
  const m = d.metadata as { name: string; namespace?: string };
  return `${String(d.kind)}/${m.namespace ?? ''}/${m.name}`;
};

function parsed(doc: string): Doc | undefined {
  try {
    return JSON.parse(doc) as Doc;
  } catch {
    return undefined; // the deliberately broken document
  }
}

/** Two file sources (documents in order, possibly invalid) and per-object API-server sources. */
interface Sources {
  files: Map<string, string[]>;
  kube: Map<string, Doc>;
}

function text(docs: readonly string[]): string {
  return docs.map((d) => `${d}\n`).join('---\n');
}

/** One random edit of the sources; returns the sources it touched. */
function edit(world: World, sources: Sources): { files: Set<string>; kube: Set<string> } {
  const touched = { files: new Set<string>(), kube: new Set<string>() };
  const op = world.random();
  if (op < 0.2) {
    // An API-server object appears, changes or goes away.
    const doc = world.object();
    const name = `kube:${keyOf(doc)}`;
    if (sources.kube.has(name) && world.chance(0.3)) sources.kube.delete(name);
    else sources.kube.set(name, doc);
    touched.kube.add(name);
    return touched;
  }
  const file = world.pick(['a.yaml', 'b.yaml']);
  const docs = sources.files.get(file) ?? [];
  sources.files.set(file, docs);
  touched.files.add(file);
  if (op < 0.7 || docs.length === 0) {
    // Add or replace an object (same key: replaced in place; else appended).
    const doc = world.object();
    const i = docs.findIndex((d) => parsed(d) !== undefined && keyOf(parsed(d)!) === keyOf(doc));
    if (i >= 0 && world.chance(0.8)) docs[i] = JSON.stringify(doc);
    else docs.push(JSON.stringify(doc));
  } else if (op < 0.82) {
    docs.splice(Math.floor(world.random() * docs.length), 1);
  } else if (op < 0.87) {
    // A document turns invalid: the object's last good version stays in force.
    const i = Math.floor(world.random() * docs.length);
    const doc = parsed(docs[i]!);
    if (!doc) return touched;
    if (doc.kind === 'Pod') (doc.status as Doc).podIP = 'not-an-ip';
    else doc.apiVersion = 'nope/v0';
    docs[i] = JSON.stringify(doc);
  } else if (op < 0.92) {
    // Reorder: document numbers move (they appear in errors).
    docs.reverse();
  } else if (op < 0.95) {
    sources.files.set(file, []);
  } else if (op < 0.97) {
    docs.push('kind: [not yaml');
  } else {
    // The other file gets a copy: duplicates across sources.
    const other = file === 'a.yaml' ? 'b.yaml' : 'a.yaml';
    const copy = world.pick(docs);
    const otherDocs = sources.files.get(other) ?? [];
    otherDocs.push(copy);
    sources.files.set(other, otherDocs);
    touched.files.add(other);
  }
  return touched;
}

function assertSameAsFullCompile(store: ConfigStore, context: string): MeshModel {
  const { resources, errors } = store.resources.resolve();
  const full = compileModel(resources, { trustDomain: 'cluster.local' });
  assert.equal(JSON.stringify(store.model), JSON.stringify(full.model), `${context}: model`);
  assert.deepEqual(store.warnings.map(formatConfigError).sort(), full.warnings.map(formatConfigError).sort(), `${context}: warnings`);
  assert.deepEqual(store.errors, errors, `${context}: errors`);
  assert.deepEqual(store.index, new ModelIndex(full.model), `${context}: index`);
  return full.model;
}

function run(seed: number, steps: number): { deltas: number; workloads: number } {
  const world = new World(seed);
  const store = new ConfigStore({ trustDomain: 'cluster.local' });
  const deltas: ModelDelta[] = [];
  store.subscribe((d) => deltas.push(d));
  const sources: Sources = { files: new Map(), kube: new Map() };
  let previous: MeshModel = { workloads: [], services: [], authorizations: [] };
  let previousL7 = new Map<string, string>();
  let maxWorkloads = 0;
  for (let step = 0; step < steps; step++) {
    const touched = { files: new Set<string>(), kube: new Set<string>() };
    const batch = 1 + Math.floor(world.random() * 3);
    for (let b = 0; b < batch; b++) {
      const t = edit(world, sources);
      t.files.forEach((f) => touched.files.add(f));
      t.kube.forEach((k) => touched.kube.add(k));
    }
    const removeFile = world.chance(0.02) ? world.pick(['a.yaml', 'b.yaml']) : undefined;
    const before = deltas.length;
    store.update((set) => {
      for (const f of touched.files) set.applyText(f, text(sources.files.get(f)!));
      for (const k of touched.kube) {
        const doc = sources.kube.get(k);
        if (doc) set.applyDocuments(k, [{ value: doc, index: 0 }]);
        else set.removeSource(k);
      }
      if (removeFile) {
        set.removeSource(removeFile);
        sources.files.delete(removeFile);
      }
    });
    const context = `seed ${seed}, step ${step}`;
    const model = assertSameAsFullCompile(store, context);
    const expected = diffModels(previous, model);
    const changed = Object.values(expected).some((list: readonly unknown[]) => list.length > 0);
    // The L7 resources waypoints get: exactly those in force, and a delta names each one that changed.
    const l7 = new Map(store.resources.resolve().resources.filter((r) => waypointResourceKinds.has(r.kind)).map((r) => [resourceKey(r), JSON.stringify(r)]));
    assert.deepEqual(new Map([...store.waypointResources].map(([k, r]) => [k, JSON.stringify(r)])), l7, `${context}: L7 resources in force`);
    const l7Changed = [...new Set([...l7.keys(), ...previousL7.keys()])].filter((k) => l7.get(k) !== previousL7.get(k)).sort();
    assert.equal(deltas.length, before + (changed || l7Changed.length > 0 ? 1 : 0), `${context}: a delta exactly when the model changed`);
    if (deltas.length > before) {
      const { upsertedWaypointResources, removedWaypointResources, ...modelPart } = deltas.at(-1)!;
      if (changed) assert.equal(JSON.stringify(modelPart), JSON.stringify({ version: deltas.length, ...expected }), `${context}: delta`);
      const named = [...(upsertedWaypointResources ?? []).map(resourceKey), ...(removedWaypointResources ?? [])].sort();
      assert.deepEqual(named.filter((k) => l7Changed.includes(k)), l7Changed, `${context}: every changed L7 resource is in the delta`);
    }
    previousL7 = l7;
    previous = model;
    maxWorkloads = Math.max(maxWorkloads, model.workloads.length);
  }
  return { deltas: deltas.length, workloads: maxWorkloads };
}

describe('ModelCompiler (incremental compile, through ConfigStore)', () => {
  it('keeps the model, warnings, errors and index equal to a full compile after every random edit', () => {
    let deltas = 0;
    let workloads = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = run(seed, 150);
      deltas += r.deltas;
      workloads = Math.max(workloads, r.workloads);
    }
    // The edits must actually exercise the compiler (not converge on an empty mesh).
    assert.ok(deltas > 1000, `only ${deltas} deltas`);
    assert.ok(workloads >= 8, `at most ${workloads} workloads`);
  });

  it('rebuilds from scratch after a compile that threw, and publishes the difference', () => {
    const store = new ConfigStore({ trustDomain: 'cluster.local' });
    const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}\n';
    const pod = (name: string, ip: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1')].join('---\n')));
    const compiler = (store as unknown as { compiler: { apply: () => never } }).compiler;
    compiler.apply = () => {
      throw new Error('boom');
    };
    assert.throws(() => store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2')].join('---\n'))), /boom/);
    const deltas: ModelDelta[] = [];
    store.subscribe((d) => deltas.push(d));
    store.update((r) => r.applyText('a.yaml', [ns, pod('p1', '10.0.0.1'), pod('p2', '10.0.0.2'), pod('p3', '10.0.0.3')].join('---\n')));
    assert.deepEqual(deltas[0]!.upsertedWorkloads.map((w) => w.name), ['p2', 'p3']);
    assertSameAsFullCompile(store, 'after rebuild');
  });
});
