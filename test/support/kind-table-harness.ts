// Test harness: decodes YAML with one KindDecoder table, the way decode.ts does for the kinds it
// knows, so a decoder table can be tested before it is merged into decode.ts. Metadata is read
// loosely (name, namespace, annotations); decode.ts owns the strict metadata rules.
import type { ConfigError } from '../../shared/config/config-error.js';
import { errorSink, FieldReader, isPlainObject } from '../../shared/config/field-reader.js';
import type { KindDecoder } from '../../shared/config/kind-decoder.js';
import { parseYamlDocuments } from '../../shared/config/yaml-documents.js';

export interface HarnessResult<R> {
  readonly resources: R[];
  readonly errors: ConfigError[];
  /** `path: reason` for each error, the form tests assert on. */
  readonly messages: string[];
}

export function decodeWithTable<R>(table: Readonly<Record<string, KindDecoder<R>>>, text: string): HarnessResult<R> {
  const { documents, errors: parseErrors } = parseYamlDocuments(text, 'mesh.yaml');
  const errors: ConfigError[] = [...parseErrors];
  const resources: R[] = [];
  for (const d of documents) {
    if (!isPlainObject(d.value)) continue;
    const kind = String(d.value.kind);
    const decoder = table[kind];
    const sink = errorSink(errors, { source: 'mesh.yaml', document: d.index, kind });
    const doc = new FieldReader(d.value, '', sink);
    if (!decoder) {
      sink('kind', `unknown kind ${kind}`);
      continue;
    }
    const apiVersion = doc.string('apiVersion', { required: true });
    if (apiVersion === undefined || !decoder.apiVersions.includes(apiVersion)) {
      sink('apiVersion', `${kind} must be ${decoder.apiVersions.join(' or ')}`);
      continue;
    }
    const m = doc.object('metadata', { required: true });
    const name = m?.string('name', { required: true });
    if (!m || name === undefined) continue;
    const meta = { name, namespace: m.string('namespace') ?? 'default', labels: m.stringMap('labels'), annotations: m.stringMap('annotations') };
    const r = decoder.decode(doc, meta);
    if (r !== undefined) resources.push(r);
  }
  return { resources, errors, messages: errors.map((e) => `${e.path}: ${e.reason}`) };
}
