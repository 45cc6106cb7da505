import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDocument } from './decode.js';
import { DocumentCache, splitYamlDocuments } from './document-cache.js';
import { maxYamlBytes, parseYamlDocuments } from './yaml-documents.js';

const pod = (name: string, ip = '10.0.0.1') => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: demo}\nspec: {containers: [{name: c}]}\nstatus: {podIP: ${ip}}\n`;
const aliases = (n: number) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels: &l {a: b}\n${Array.from({ length: n }, (_, i) => `x${i}: *l\n`).join('')}`;

/** Inputs where splitting and parsing are easy to get subtly wrong. */
const texts: Record<string, string> = {
  plain: [pod('a'), pod('b')].join('---\n'),
  leadingSeparator: `---\n${pod('a')}---\n${pod('b')}`,
  leadingComment: `# a comment\n---\n${pod('a')}`,
  leadingContent: `${pod('a')}---\n---\n${pod('b')}---\n`,
  separatorsWithComments: `--- # first\n${pod('a')}---\t\n${pod('b')}--- #x\n`,
  emptyAndNullDocuments: `${pod('a')}---\n# only a comment\n---\n~\n---\n\n---\n${pod('b')}`,
  noTrailingNewline: `${pod('a')}---\n${pod('b').trimEnd()}`,
  trailingSeparatorNoNewline: `${pod('a')}---`,
  crlf: `${pod('a').replaceAll('\n', '\r\n')}---\r\n${pod('b').replaceAll('\n', '\r\n')}`,
  brokenMiddle: `${pod('a')}---\napiVersion: v1\nkind: Pod\nmetadata: {name: x\n  namespace: demo}\n---\n${pod('b')}`,
  brokenIndentation: `${pod('a')}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: y\n   namespace: demo\n`,
  duplicateKeys: `apiVersion: v1\nkind: Pod\nkind: Pod\nmetadata: {name: d}\n`,
  scalarDocument: `just a string\n---\n${pod('a')}`,
  aliasesAllowed: aliases(100),
  aliasesRefused: `${pod('a')}---\n${aliases(101)}`,
  decodeErrors: `${pod('a', 'not-an-ip')}---\n${pod('b')}`,
  indentedDashes: `${pod('a')}  ---\n`,
  onlyComments: '# nothing\n# here\n',
  empty: '',
  json: `{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j", "namespace": "demo"}, "spec": {"containers": []}, "status": {"podIP": "10.0.0.9"}}\n`,
};

/** What ResourceSet did before DocumentCache: parseYamlDocuments() over the text, decode each. */
function reference(source: string, text: string) {
  const parsed = parseYamlDocuments(text, source);
  return {
    parseErrors: parsed.errors,
    parsed: parsed.documents.length,
    documents: parsed.documents.map((d) => {
      const r = decodeDocument(d.value, { source, document: d.index, line: d.line, defaultNamespace: 'default' });
      return r.resource && r.errors.length === 0 ? { index: d.index, resource: r.resource, errors: [] } : { index: d.index, errors: r.errors, value: d.value };
    }),
  };
}

describe('DocumentCache', () => {
  for (const [name, text] of Object.entries(texts)) {
    it(`splits, parses and decodes like parseYamlDocuments + decodeDocument: ${name}`, () => {
      const got = new DocumentCache('default').decodeText('f.yaml', text);
      assert.deepEqual(got, reference('f.yaml', text));
      // And again from a warm cache (every document reused).
      const cache = new DocumentCache('default');
      cache.decodeText('f.yaml', text);
      assert.deepEqual(cache.decodeText('f.yaml', text), reference('f.yaml', text));
    });
  }

  it('refuses a text over the size limit as parseYamlDocuments does', () => {
    const big = `# ${'x'.repeat(maxYamlBytes)}\n`;
    assert.deepEqual(new DocumentCache('default').decodeText('big.yaml', big), { documents: [], parseErrors: parseYamlDocuments(big, 'big.yaml').errors, parsed: 0 });
  });

  it('keeps the decoded object of every unchanged document, wherever it moved', () => {
    const cache = new DocumentCache('default');
    // (The last document of a text also ends with the text's final newline: a different text.)
    const first = cache.decodeText('f.yaml', [pod('a'), pod('b'), pod('c'), pod('z')].join('---\n'));
    const second = cache.decodeText('f.yaml', [pod('c'), pod('b', '10.0.0.2'), `# new\n${pod('d')}`, pod('a'), pod('z')].join('---\n'));
    const byName = (d: typeof first, n: string) => d.documents.find((x) => x.resource?.meta.name === n);
    assert.equal(byName(second, 'a')!.resource, byName(first, 'a')!.resource);
    assert.equal(byName(second, 'a')!.index, 3);
    assert.equal(byName(second, 'c')!.resource, byName(first, 'c')!.resource);
    assert.notEqual(byName(second, 'b')!.resource, byName(first, 'b')!.resource);
    assert.ok(byName(second, 'd'));
  });

  it('keeps its cache when a whole text fails to parse', () => {
    const cache = new DocumentCache('default');
    const first = cache.decodeText('f.yaml', pod('a'));
    assert.equal(cache.decodeText('f.yaml', 'kind: [broken\n').parsed, 0);
    assert.equal(cache.decodeText('f.yaml', pod('a')).documents[0]!.resource, first.documents[0]!.resource);
  });

  it('splits at the lines parseYamlDocuments splits at', () => {
    for (const text of Object.values(texts)) {
      const parts = splitYamlDocuments(text);
      for (const d of parseYamlDocuments(text, 'f.yaml').documents) assert.equal(parts[d.index]!.line, d.line);
    }
  });
});
