// Splits multi-document YAML into plain values, one per non-empty document, with the errors of
// the documents that do not parse. One bad document never hides the good ones around it.
// Documents are split on `---` lines the way kubectl does, then each is parsed with js-yaml's
// core schema (no timestamps or custom tags: strings stay strings). js-yaml over the `yaml`
// package: 20x faster here (3 MB / 11k documents: 0.3 s against 5.7 s).
import jsYaml from 'js-yaml';
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

export const maxYamlBytes = 8 * 1024 * 1024;
/** js-yaml shares aliased nodes instead of copying them; still, a document that is mostly alias
 *  references is hostile (anything that walks it expands it), so it is refused. */
const maxAliasesPerDocument = 100;
const separator = /^---[ \t]*(#.*)?$/;
const aliasRef = /(?:^|[\s[{,:-])\*[^\s,\]}]+/g;

function hasContent(lines: readonly string[]): boolean {
  return lines.some((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

export function parseYamlDocuments(text: string, source: string): YamlParse {
  const documents: YamlDocument[] = [];
  const errors: ConfigError[] = [];
  if (Buffer.byteLength(text) > maxYamlBytes) {
    errors.push({ source, path: '', reason: `file is larger than ${maxYamlBytes} bytes` });
    return { documents, errors };
  }
  const parts: { lines: string[]; line: number }[] = [];
  let current: { lines: string[]; line: number } = { lines: [], line: 1 };
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (separator.test(l)) {
      // A separator before any content opens the first document rather than ending one.
      if (parts.length > 0 || hasContent(current.lines)) parts.push(current);
      current = { lines: [], line: i + 2 };
    } else {
      current.lines.push(l);
    }
  });
  parts.push(current);
  parts.forEach((part, index) => {
    if (!hasContent(part.lines)) return;
    const body = part.lines.join('\n');
    const aliases = body.match(aliasRef)?.length ?? 0;
    if (aliases > maxAliasesPerDocument) {
      errors.push({ source, document: index, line: part.line, path: '', reason: `invalid YAML: ${aliases} alias references (at most ${maxAliasesPerDocument})` });
      return;
    }
    try {
      const value = jsYaml.load(body, { schema: jsYaml.CORE_SCHEMA, filename: source });
      if (value !== null && value !== undefined) documents.push({ index, line: part.line, value });
    } catch (err) {
      const e = err as { reason?: string; message: string; mark?: { line?: number } };
      const line = part.line + (e.mark?.line ?? 0);
      errors.push({ source, document: index, line, path: '', reason: `invalid YAML: ${e.reason ?? e.message.split('\n')[0]}` });
    }
  });
  return { documents, errors };
}
