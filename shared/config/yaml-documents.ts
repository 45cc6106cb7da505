// Splits multi-document YAML into plain values, one per non-empty document, with the errors of
// the documents that do not parse. One bad document never hides the good ones around it.
import { parseAllDocuments } from 'yaml';
import type { ConfigError } from './config-error.js';

export interface YamlDocument {
  readonly index: number;
  readonly line: number;
  readonly value: unknown;
}

export interface YamlParse {
  readonly documents: YamlDocument[];
  readonly errors: ConfigError[];
}

/** Caps keep a hostile file from costing more than a big honest one (billion-laughs aliases). */
const maxAliasCount = 100;
export const maxYamlBytes = 8 * 1024 * 1024;

export function parseYamlDocuments(text: string, source: string): YamlParse {
  const documents: YamlDocument[] = [];
  const errors: ConfigError[] = [];
  if (Buffer.byteLength(text) > maxYamlBytes) {
    errors.push({ source, path: '', reason: `file is larger than ${maxYamlBytes} bytes` });
    return { documents, errors };
  }
  const lineOf = (offset: number): number => {
    let line = 1;
    for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
    return line;
  };
  const parsed = parseAllDocuments(text, { strict: true, uniqueKeys: true, prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [parsed];
  docs.forEach((doc, index) => {
    const start = doc.range?.[0] ?? 0;
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      errors.push({ source, document: index, line: lineOf(first.pos[0]), path: '', reason: `invalid YAML: ${first.message.split('\n')[0]}` });
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (err) {
      errors.push({ source, document: index, line: lineOf(start), path: '', reason: `invalid YAML: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return; // empty document (e.g. a trailing ---)
    documents.push({ index, line: lineOf(start), value });
  });
  return { documents, errors };
}
