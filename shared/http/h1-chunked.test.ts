import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChunkedDecoder, chunkHeader, lastChunk } from './h1-chunked.js';

function decodeAll(parts: string[]): { data: string; step: ReturnType<ChunkedDecoder['push']> } {
  const d = new ChunkedDecoder();
  let data = '';
  let step: ReturnType<ChunkedDecoder['push']> = { kind: 'more' };
  for (const p of parts) {
    step = d.push(Buffer.from(p, 'latin1'), (c) => (data += c.toString('latin1')));
    if (step.kind !== 'more') break;
  }
  return { data, step };
}

describe('ChunkedDecoder', () => {
  const wire = '5;name=v\r\nhello\r\n1a\r\n, and twenty-six bytes....\r\n0\r\nX-Sum: 42\r\n\r\nNEXT';

  it('decodes chunks with extensions and the trailer section, leaving what follows', () => {
    const { data, step } = decodeAll([wire]);
    assert.equal(data, 'hello, and twenty-six bytes....');
    assert.equal(step.kind, 'done');
    if (step.kind !== 'done') return;
    assert.deepEqual(step.trailers, [['x-sum', '42']]);
    assert.equal(step.rest.toString(), 'NEXT');
  });

  it('gives the same result however the bytes are split', () => {
    for (let cut = 1; cut < wire.length; cut++) {
      const { data, step } = decodeAll([wire.slice(0, cut), wire.slice(cut)]);
      assert.equal(data, 'hello, and twenty-six bytes....', `cut at ${cut}`);
      assert.equal(step.kind, 'done', `cut at ${cut}`);
    }
    const bytes = decodeAll([...wire]);
    assert.equal(bytes.data, 'hello, and twenty-six bytes....');
  });

  it('refuses malformed sizes, missing CRLF after data, and oversized lines', () => {
    assert.equal(decodeAll(['zz\r\n']).step.kind, 'error');
    assert.equal(decodeAll(['-1\r\n']).step.kind, 'error');
    assert.equal(decodeAll(['3\r\nabcX\r\n']).step.kind, 'error');
    assert.equal(decodeAll(['fffffffffffffffff\r\n']).step.kind, 'error');
    assert.equal(decodeAll(['1'.repeat(5000)]).step.kind, 'error');
    assert.equal(decodeAll(['0\r\nbad trailer\r\n\r\n']).step.kind, 'error');
  });

  it('refuses the chunk-line forms parsers disagree on (smuggling probes)', () => {
    const probes: Record<string, string> = {
      'bare LF after the size': '5\nhello\r\n0\r\n\r\n',
      'bare CR in an extension': '5;a\rb\r\nhello\r\n0\r\n\r\n',
      'LF only after the data': '5\r\nhello\n0\r\n\r\n',
      'a 0x prefix': '0x5\r\nhello\r\n0\r\n\r\n',
      'whitespace before the size': ' 5\r\nhello\r\n0\r\n\r\n',
      'a size with an underscore': '1_0\r\n',
      'an empty size': '\r\nhello\r\n',
      'a folded trailer': '0\r\nX-A: 1\r\n  more\r\n\r\n',
      'a bare LF ending the trailers': '0\r\nX-A: 1\n\r\n',
    };
    for (const [name, wire] of Object.entries(probes)) assert.equal(decodeAll([wire]).step.kind, 'error', name);
  });

  it('reads leading zeros in a size as hex digits, and stops at exactly the last chunk', () => {
    const { data, step } = decodeAll(['0005\r\nhello\r\n000\r\n\r\nGET / HTTP/1.1\r\n']);
    assert.equal(data, 'hello');
    assert.equal(step.kind === 'done' && step.rest.toString(), 'GET / HTTP/1.1\r\n');
  });

  it('frames chunks the way it reads them', () => {
    const framed = `${chunkHeader(5)}hello\r\n${lastChunk([['x-t', '1']])}`;
    const { data, step } = decodeAll([framed]);
    assert.equal(data, 'hello');
    assert.deepEqual(step.kind === 'done' && step.trailers, [['x-t', '1']]);
  });
});
