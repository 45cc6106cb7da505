// ResourceSet: the user's resources as the sources last delivered them, with Ambit's rules for
// bad and conflicting input. Each source (a file, or the API server) is replaced as a whole;
// an object whose new document has any error keeps its last good version (or is left out if it
// never had one); the same kind/namespace/name from two places is an error and the first (by
// source name, then document) wins. The winners are kept as sources change, and takeChanges()
// says which winning objects appeared, changed or went away since it was last called.
import type { ConfigError } from './config-error.js';
import { decodeDocument, isNamespacedKind, type Resource } from './decode.js';
import { DocumentCache, type DecodedDocument } from './document-cache.js';
import { isPlainObject } from './field-reader.js';

export function resourceKey(r: Pick<Resource, 'kind'> & { meta: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.meta.namespace}/${r.meta.name}`;
}

/** An object in force that appeared, changed (a new object) or went away. */
export interface ResourceChange {
  /** `Kind/namespace/name` (resourceKey()). */
  readonly key: string;
  readonly before: Resource | undefined;
  readonly after: Resource | undefined;
}

interface SourceObject {
  readonly resource: Resource;
  readonly document: number;
}

interface SourceState {
  /** Objects from this source by key, the last good version of each. */
  readonly objects: Map<string, SourceObject>;
  readonly errors: ConfigError[];
  readonly documents?: DocumentCache;
  /** Errors for this source's objects that an earlier source defines too (undefined: to compute). */
  duplicates?: ConfigError[];
}

/** kind/namespace/name of a raw document, when it names them (for last-good lookups). */
function rawKey(value: unknown, defaultNamespace: string): string | undefined {
  if (!isPlainObject(value) || typeof value.kind !== 'string' || !isPlainObject(value.metadata)) return undefined;
  const name = value.metadata.name;
  if (typeof name !== 'string') return undefined;
  const ns = isNamespacedKind(value.kind) === false ? '' : typeof value.metadata.namespace === 'string' ? value.metadata.namespace : defaultNamespace;
  return `${value.kind}/${ns}/${name}`;
}

function duplicateError(source: string, document: number, resource: Resource, winner: string): ConfigError {
  return { source, document, kind: resource.kind, namespace: resource.meta.namespace, name: resource.meta.name, path: 'metadata.name', reason: `duplicate: already defined in ${winner}; this copy is ignored` };
}

export class ResourceSet {
  private readonly sources = new Map<string, SourceState>();
  private readonly defaultNamespace: string;
  private sortedSources?: string[];
  /** Sources defining each key, sorted by name: the first one's object is in force. */
  private readonly providers = new Map<string, string[]>();
  /** Key → the object in force before its first change since takeChanges(). */
  private readonly pending = new Map<string, Resource | undefined>();
  private errorList?: ConfigError[];

  constructor(opts: { defaultNamespace?: string } = {}) {
    this.defaultNamespace = opts.defaultNamespace ?? 'default';
  }

  /** Replaces everything `source` contributed with the documents of `text` (YAML or JSON). */
  applyText(source: string, text: string): ConfigError[] {
    const documents = this.sources.get(source)?.documents ?? new DocumentCache(this.defaultNamespace);
    const decoded = documents.decodeText(source, text);
    return this.replace(source, decoded.documents, decoded.parseErrors, decoded.parsed === 0, documents);
  }

  /** Replaces everything `source` contributed with these already-parsed documents. */
  applyDocuments(source: string, documents: readonly { value: unknown; index: number; line?: number }[], parseErrors: readonly ConfigError[] = []): ConfigError[] {
    const decoded = documents.map((doc): DecodedDocument => {
      const result = decodeDocument(doc.value, { source, document: doc.index, defaultNamespace: this.defaultNamespace, ...(doc.line !== undefined ? { line: doc.line } : {}) });
      return result.resource && result.errors.length === 0 ? { index: doc.index, resource: result.resource, errors: [] } : { index: doc.index, errors: result.errors, value: doc.value };
    });
    return this.replace(source, decoded, parseErrors, documents.length === 0);
  }

  removeSource(source: string): boolean {
    const previous = this.sources.get(source);
    if (!previous) return false;
    for (const key of previous.objects.keys()) this.withdraw(key, source);
    this.sources.delete(source);
    this.sortedSources = undefined;
    this.errorList = undefined;
    return true;
  }

  sourceNames(): string[] {
    this.sortedSources ??= [...this.sources.keys()].sort();
    return [...this.sortedSources];
  }

  /** Input errors of every source, in source order, with the duplicates each one loses. */
  errors(): readonly ConfigError[] {
    if (!this.errorList) {
      this.sortedSources ??= [...this.sources.keys()].sort();
      const out: ConfigError[] = [];
      for (const source of this.sortedSources) {
        const state = this.sources.get(source)!;
        state.duplicates ??= this.duplicatesOf(source, state);
        for (const e of state.errors) out.push(e);
        for (const e of state.duplicates) out.push(e);
      }
      this.errorList = out;
    }
    return this.errorList;
  }

  /** Objects in force that appeared, changed or went away since the last call. */
  takeChanges(): ResourceChange[] {
    const out: ResourceChange[] = [];
    for (const [key, before] of this.pending) {
      const after = this.inForce(key);
      if (after !== before) out.push({ key, before, after });
    }
    this.pending.clear();
    return out;
  }

  /** Every resource in force, computed from scratch (first source by name wins). */
  resolve(): { resources: Resource[]; errors: ConfigError[] } {
    const winners = new Map<string, { resource: Resource; source: string }>();
    const errors: ConfigError[] = [];
    for (const source of this.sourceNames()) {
      const state = this.sources.get(source)!;
      errors.push(...state.errors);
      for (const [key, { resource, document }] of state.objects) {
        const existing = winners.get(key);
        if (existing) {
          errors.push(duplicateError(source, document, resource, existing.source));
          continue;
        }
        winners.set(key, { resource, source });
      }
    }
    return { resources: [...winners.values()].map((w) => w.resource), errors };
  }

  private replace(source: string, documents: readonly DecodedDocument[], parseErrors: readonly ConfigError[], nothingParsed: boolean, cache?: DocumentCache): ConfigError[] {
    const previous = this.sources.get(source);
    const errors: ConfigError[] = [...parseErrors];
    const objects = new Map<string, SourceObject>();
    for (const doc of documents) {
      errors.push(...doc.errors);
      // Any error makes the object bad as a whole: half an object (a policy missing a rule, a
      // pod missing its IP) could mean something the user never wrote.
      if (doc.resource) {
        const key = resourceKey(doc.resource);
        const first = objects.get(key);
        if (first) {
          errors.push({ source, document: doc.index, kind: doc.resource.kind, namespace: doc.resource.meta.namespace, name: doc.resource.meta.name, path: 'metadata.name', reason: `duplicate: already defined in document ${first.document} of this source` });
          continue;
        }
        const old = previous?.objects.get(key);
        objects.set(key, old && old.resource === doc.resource && old.document === doc.index ? old : { resource: doc.resource, document: doc.index });
        continue;
      }
      // Invalid now: the last good version of the same object stays in force.
      const key = rawKey(doc.value, this.defaultNamespace);
      const lastGood = key ? previous?.objects.get(key) : undefined;
      if (key && lastGood && !objects.has(key)) objects.set(key, lastGood);
    }
    // A source whose whole text does not parse keeps its last good objects.
    if (nothingParsed && parseErrors.length > 0 && previous) {
      for (const [k, v] of previous.objects) objects.set(k, v);
    }
    if (previous) {
      for (const [key, old] of previous.objects) {
        const now = objects.get(key);
        if (!now) this.withdraw(key, source);
        else if (now.resource !== old.resource && this.providers.get(key)?.[0] === source) this.noteChange(key, old.resource);
      }
    } else {
      this.sortedSources = undefined;
    }
    this.sources.set(source, { objects, errors, ...(cache ? { documents: cache } : {}) });
    for (const key of objects.keys()) if (!previous?.objects.has(key)) this.provide(key, source);
    this.errorList = undefined;
    return errors;
  }

  private inForce(key: string): Resource | undefined {
    const first = this.providers.get(key)?.[0];
    return first === undefined ? undefined : this.sources.get(first)?.objects.get(key)?.resource;
  }

  private noteChange(key: string, before: Resource | undefined): void {
    if (!this.pending.has(key)) this.pending.set(key, before);
  }

  /** `source` now defines `key` (its state is already in place). */
  private provide(key: string, source: string): void {
    const list = this.providers.get(key);
    if (!list) {
      this.noteChange(key, undefined);
      this.providers.set(key, [source]);
      return;
    }
    let i = 0;
    while (i < list.length && list[i]! < source) i++;
    if (i === 0) this.noteChange(key, this.inForce(key));
    list.splice(i, 0, source);
    this.contested(list);
  }

  /** `source` no longer defines `key` (called while its old state is still in place). */
  private withdraw(key: string, source: string): void {
    const list = this.providers.get(key);
    const i = list ? list.indexOf(source) : -1;
    if (!list || i < 0) return;
    if (i === 0) this.noteChange(key, this.inForce(key));
    list.splice(i, 1);
    if (list.length === 0) this.providers.delete(key);
    else this.contested([source, ...list]);
  }

  /** Sources sharing a key: their duplicate errors must be computed again. */
  private contested(sources: readonly string[]): void {
    for (const s of sources) {
      const state = this.sources.get(s);
      if (state) state.duplicates = undefined;
    }
    this.errorList = undefined;
  }

  private duplicatesOf(source: string, state: SourceState): ConfigError[] {
    const out: ConfigError[] = [];
    for (const [key, { resource, document }] of state.objects) {
      const winner = this.providers.get(key)?.[0];
      if (winner !== undefined && winner !== source) out.push(duplicateError(source, document, resource, winner));
    }
    return out;
  }
}
