// ResourceSet: the user's resources as the sources last delivered them, with Ambit's rules for
// bad and conflicting input. Each source (a file, or the API server) is replaced as a whole;
// an object whose new document has any error keeps its last good version (or is left out if it
// never had one); the same kind/namespace/name from two places is an error and the first (by
// source name, then document) wins.
import type { ConfigError } from './config-error.js';
import { decodeDocument, isNamespacedKind, type Resource } from './decode.js';
import { isPlainObject } from './field-reader.js';
import { parseYamlDocuments } from './yaml-documents.js';

export function resourceKey(r: Pick<Resource, 'kind'> & { meta: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.meta.namespace}/${r.meta.name}`;
}

interface SourceState {
  /** Objects from this source by key, the last good version of each. */
  readonly objects: Map<string, { resource: Resource; document: number }>;
  readonly errors: ConfigError[];
}

/** kind/namespace/name of a raw document, when it names them (for last-good lookups). */
function rawKey(value: unknown, defaultNamespace: string): string | undefined {
  if (!isPlainObject(value) || typeof value.kind !== 'string' || !isPlainObject(value.metadata)) return undefined;
  const name = value.metadata.name;
  if (typeof name !== 'string') return undefined;
  const ns = isNamespacedKind(value.kind) === false ? '' : typeof value.metadata.namespace === 'string' ? value.metadata.namespace : defaultNamespace;
  return `${value.kind}/${ns}/${name}`;
}

export class ResourceSet {
  private readonly sources = new Map<string, SourceState>();
  private readonly defaultNamespace: string;

  constructor(opts: { defaultNamespace?: string } = {}) {
    this.defaultNamespace = opts.defaultNamespace ?? 'default';
  }

  /** Replaces everything `source` contributed with the documents of `text` (YAML or JSON). */
  applyText(source: string, text: string): ConfigError[] {
    const { documents, errors } = parseYamlDocuments(text, source);
    return this.applyDocuments(source, documents.map((d) => ({ value: d.value, index: d.index, line: d.line })), errors);
  }

  /** Replaces everything `source` contributed with these already-parsed documents. */
  applyDocuments(source: string, documents: readonly { value: unknown; index: number; line?: number }[], parseErrors: readonly ConfigError[] = []): ConfigError[] {
    const previous = this.sources.get(source);
    const errors: ConfigError[] = [...parseErrors];
    const objects = new Map<string, { resource: Resource; document: number }>();
    for (const doc of documents) {
      const result = decodeDocument(doc.value, { source, document: doc.index, defaultNamespace: this.defaultNamespace, ...(doc.line !== undefined ? { line: doc.line } : {}) });
      errors.push(...result.errors);
      // Any error makes the object bad as a whole: half an object (a policy missing a rule, a
      // pod missing its IP) could mean something the user never wrote.
      if (result.resource && result.errors.length === 0) {
        const key = resourceKey(result.resource);
        if (objects.has(key)) {
          errors.push({ source, document: doc.index, kind: result.resource.kind, namespace: result.resource.meta.namespace, name: result.resource.meta.name, path: 'metadata.name', reason: `duplicate: already defined in document ${objects.get(key)!.document} of this source` });
          continue;
        }
        objects.set(key, { resource: result.resource, document: doc.index });
        continue;
      }
      // Invalid now: the last good version of the same object stays in force.
      const key = rawKey(doc.value, this.defaultNamespace);
      const lastGood = key ? previous?.objects.get(key) : undefined;
      if (key && lastGood && !objects.has(key)) objects.set(key, lastGood);
    }
    // A source whose whole text does not parse keeps its last good objects.
    if (documents.length === 0 && parseErrors.length > 0 && previous) {
      for (const [k, v] of previous.objects) objects.set(k, v);
    }
    this.sources.set(source, { objects, errors });
    return errors;
  }

  removeSource(source: string): boolean {
    return this.sources.delete(source);
  }

  sourceNames(): string[] {
    return [...this.sources.keys()].sort();
  }

  /** Every resource in force, duplicates across sources resolved (first source by name wins). */
  resolve(): { resources: Resource[]; errors: ConfigError[] } {
    const winners = new Map<string, { resource: Resource; source: string }>();
    const errors: ConfigError[] = [];
    for (const source of this.sourceNames()) {
      const state = this.sources.get(source)!;
      errors.push(...state.errors);
      for (const [key, { resource, document }] of state.objects) {
        const existing = winners.get(key);
        if (existing) {
          errors.push({ source, document, kind: resource.kind, namespace: resource.meta.namespace, name: resource.meta.name, path: 'metadata.name', reason: `duplicate: already defined in ${existing.source}; this copy is ignored` });
          continue;
        }
        winners.set(key, { resource, source });
      }
    }
    return { resources: [...winners.values()].map((w) => w.resource), errors };
  }
}
