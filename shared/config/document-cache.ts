// DocumentCache: one source's decoded documents by their text. A file is split and parsed
// exactly as parseYamlDocuments() does it (kubectl's `---` rule, js-yaml core schema, the alias
// limit; document-cache.test.ts holds the two to the same output), one document at a time: a
// document whose text is unchanged since the last read keeps its decoded object without being
// parsed or decoded again, so an edit costs the edited documents and unchanged objects keep
// their identity. Only documents that decoded without any error are kept (errors carry positions).
import jsYaml from 'js-yaml';
import type { ConfigError } from './config-error.js';
import { decodeDocument, type Resource } from './decode.js';
import { maxYamlBytes, parseYamlDocuments } from './yaml-documents.js';

export interface DecodedDocument {
  readonly index: number;
  /** Set when the document decoded without errors. */
  readonly resource?: Resource;
  readonly errors: readonly ConfigError[];
  /** The parsed value of a document with errors (to find its last good version). */
  readonly value?: unknown;
}

export interface DecodedText {
  readonly documents: DecodedDocument[];
  /** Documents that are not valid YAML (they have no DecodedDocument). */
  readonly parseErrors: ConfigError[];
  /** Documents that parsed (valid YAML, empty ones excluded). */
  readonly parsed: number;
}

// parseYamlDocuments()'s rules, applied per document without re-splitting it.
const separator = /^---[ \t]*(#.*)?$/;
const maxAliasesPerDocument = 100;
const aliasRef = /(?:^|[\s[{,:-])\*[^\s,\]}]+/g;

/** A line that is neither blank nor a comment. */
function hasContent(text: string): boolean {
  let pos = 0;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    const line = text.slice(pos, nl === -1 ? text.length : nl).trim();
    if (line !== '' && !line.startsWith('#')) return true;
    if (nl === -1) return false;
    pos = nl + 1;
  }
}

/** One document's text → its value (undefined when empty), or its YAML error. */
function parseDocument(body: string, index: number, line: number, source: string): { value?: unknown; error?: ConfigError } {
  if (!hasContent(body)) return {};
  const aliases = body.includes('*') ? (body.match(aliasRef)?.length ?? 0) : 0;
  if (aliases > maxAliasesPerDocument) {
    return { error: { source, document: index, line, path: '', reason: `invalid YAML: ${aliases} alias references (at most ${maxAliasesPerDocument})` } };
  }
  try {
    const value = jsYaml.load(body, { schema: jsYaml.CORE_SCHEMA, filename: source });
    return value === null || value === undefined ? {} : { value };
  } catch (err) {
    const e = err as { reason?: string; message: string; mark?: { line?: number } };
    return { error: { source, document: index, line: line + (e.mark?.line ?? 0), path: '', reason: `invalid YAML: ${e.reason ?? e.message.split('\n')[0]}` } };
  }
}

/** parseYamlDocuments()'s split: the text of each document and its first line (1-based). */
export function splitYamlDocuments(text: string): { body: string; line: number }[] {
  const parts: { body: string; line: number }[] = [];
  let start = 0;
  let startLine = 1;
  let pos = 0;
  let lineNo = 1;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    if (text.charCodeAt(pos) === 45 /* - */ && separator.test(text.slice(pos, end))) {
      const body = pos > start ? text.slice(start, pos - 1) : '';
      // A separator before any content opens the first document rather than ending one.
      if (parts.length > 0 || hasContent(body)) parts.push({ body, line: startLine });
      start = nl === -1 ? text.length : nl + 1;
      startLine = lineNo + 1;
    }
    if (nl === -1) break;
    pos = nl + 1;
    lineNo++;
  }
  parts.push({ body: text.slice(start), line: startLine });
  return parts;
}

export class DocumentCache {
  private byText = new Map<string, Resource>();
  private readonly defaultNamespace: string;

  constructor(defaultNamespace: string) {
    this.defaultNamespace = defaultNamespace;
  }

  decodeText(source: string, text: string): DecodedText {
    if (Buffer.byteLength(text) > maxYamlBytes) return { documents: [], parseErrors: parseYamlDocuments(text, source).errors, parsed: 0 };
    const next = new Map<string, Resource>();
    const documents: DecodedDocument[] = [];
    const parseErrors: ConfigError[] = [];
    let parsed = 0;
    splitYamlDocuments(text).forEach(({ body, line }, index) => {
      const known = this.byText.get(body) ?? next.get(body);
      if (known) {
        next.set(body, known);
        documents.push({ index, resource: known, errors: [] });
        parsed++;
        return;
      }
      const doc = parseDocument(body, index, line, source);
      if (doc.error) parseErrors.push(doc.error);
      if (doc.value === undefined) return;
      parsed++;
      const result = decodeDocument(doc.value, { source, document: index, line, defaultNamespace: this.defaultNamespace });
      if (result.resource && result.errors.length === 0) {
        next.set(body, result.resource);
        documents.push({ index, resource: result.resource, errors: [] });
      } else {
        documents.push({ index, errors: result.errors, value: doc.value });
      }
    });
    // A text that does not parse at all changes nothing (its source keeps its last good objects).
    if (parsed > 0 || parseErrors.length === 0) this.byText = next;
    return { documents, parseErrors, parsed };
  }
}
