import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatConfigError } from './config-error.js';
import { parseYamlDocuments } from './yaml-documents.js';

describe('parseYamlDocuments', () => {
  it('returns each non-empty document with its index and first line', () => {
    const text = 'a: 1\n---\n---\nb: 2\nc: 3\n---\n';
    const { documents, errors } = parseYamlDocuments(text, 'mesh.yaml');
    assert.deepEqual(errors, []);
    assert.deepEqual(documents.map((d) => [d.index, d.value]), [[0, { a: 1 }], [2, { b: 2, c: 3 }]]);
  });

  it('reports a malformed document with file, document and line, and keeps the good ones around it', () => {
    const text = 'kind: A\n---\nkind: [unclosed\nname: x\n---\nkind: C\n';
    const { documents, errors } = parseYamlDocuments(text, 'bad.yaml');
    assert.deepEqual(documents.map((d) => d.value), [{ kind: 'A' }, { kind: 'C' }]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.source, 'bad.yaml');
    assert.equal(errors[0]!.document, 1);
    assert.ok(errors[0]!.line! >= 3);
    assert.match(formatConfigError(errors[0]!), /^bad\.yaml, document 1, line \d+: invalid YAML/);
  });

  it('rejects duplicate keys instead of letting the last one win silently', () => {
    const { documents, errors } = parseYamlDocuments('metadata:\n  name: a\n  name: b\n', 'dup.yaml');
    assert.equal(documents.length, 0);
    assert.match(errors[0]!.reason, /invalid YAML/);
  });

  it('refuses alias expansion bombs', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 12; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`);
    const { documents, errors } = parseYamlDocuments(lines.join('\n'), 'bomb.yaml');
    assert.equal(documents.length, 0);
    assert.equal(errors.length, 1);
  });
});
