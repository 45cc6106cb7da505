import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endToEndHeaders, isWritableField, parseRequestHead, parseResponseHead } from './h1-head.js';

const req = (s: string) => parseRequestHead(Buffer.from(s, 'latin1'));
const res = (s: string, method = 'GET') => parseResponseHead(Buffer.from(s, 'latin1'), method);

describe('parseRequestHead', () => {
  it('parses a request line and headers (names lower-cased, values trimmed) and says how many bytes it used', () => {
    const p = req('GET /a?b=1 HTTP/1.1\r\nHost: x.y:80\r\nX-Multi:  one \r\nx-multi: two\r\n\r\nrest');
    assert.equal(p.kind, 'head');
    if (p.kind !== 'head') return;
    assert.equal(p.head.method, 'GET');
    assert.equal(p.head.target, '/a?b=1');
    assert.deepEqual(p.head.headers, [['host', 'x.y:80'], ['x-multi', 'one'], ['x-multi', 'two']]);
    assert.deepEqual(p.head.framing, { kind: 'length', length: 0 });
    assert.equal(p.head.keepAlive, true);
    assert.equal(p.consumed, Buffer.byteLength('GET /a?b=1 HTTP/1.1\r\nHost: x.y:80\r\nX-Multi:  one \r\nx-multi: two\r\n\r\n'));
  });

  it('waits for more bytes until the blank line, also when scanning resumes part-way', () => {
    const whole = Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let cut = 0; cut < whole.length; cut++) assert.equal(parseRequestHead(whole.subarray(0, cut)).kind, 'incomplete', `cut at ${cut}`);
    assert.equal(parseRequestHead(whole, undefined, whole.length - 2).kind, 'head');
  });

  it('decides the body framing: Content-Length, chunked, none', () => {
    const cl = req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nContent-Length: 12\r\n\r\n');
    assert.deepEqual(cl.kind === 'head' && cl.head.framing, { kind: 'length', length: 12 });
    const te = req('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n');
    assert.deepEqual(te.kind === 'head' && te.head.framing, { kind: 'chunked' });
  });

  it('refuses what request smuggling and sloppy parsers rely on with 400', () => {
    const probes: Record<string, string> = {
      'CL and TE': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n',
      'two different lengths': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n',
      'a length list': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 4\r\n\r\n',
      'a signed length': 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n',
      'gzip coding': 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
      'chunked twice': 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n',
      'bare CR': 'GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n',
      'bare LF': 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n',
      'space before colon': 'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
      'obs-fold': 'GET / HTTP/1.1\r\nHost: a\r\n  folded\r\n\r\n',
      'lower-case method': 'get / HTTP/1.1\r\nHost: a\r\n\r\n',
      'NUL in target': 'GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n',
      'HTTP/2 version': 'GET / HTTP/2.0\r\nHost: a\r\n\r\n',
      'two spaces': 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n',
      'control char in value': 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n',
    };
    for (const [name, text] of Object.entries(probes)) {
      const p = req(text);
      assert.equal(p.kind, 'error', name);
      assert.equal(p.kind === 'error' && p.status, 400, name);
    }
  });

  it('refuses an HTTP/1.0 request with Transfer-Encoding as faulty framing (RFC 9112 §6.1), even when it asks for keep-alive', () => {
    const p = req('POST / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(p.kind === 'error' && p.status, 400);
  });

  it('takes a Content-Length with leading zeros as its decimal value', () => {
    const p = req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n');
    assert.deepEqual(p.kind === 'head' && p.head.framing, { kind: 'length', length: 7 });
    // Equal values, different spellings: still two different lengths to a byte-comparing peer.
    assert.equal(req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Length: 07\r\n\r\n').kind, 'error');
  });

  it('answers 431 for a head over the limit or too many fields, before the blank line arrives', () => {
    const big = req(`GET / HTTP/1.1\r\nX: ${'a'.repeat(70 * 1024)}`);
    assert.deepEqual(big.kind === 'error' && big.status, 431);
    const many = parseRequestHead(Buffer.from(`GET / HTTP/1.1\r\n${'x: y\r\n'.repeat(20)}\r\n`), { maxHeadBytes: 65536, maxHeaders: 10 });
    assert.deepEqual(many.kind === 'error' && many.status, 431);
  });

  it('keeps HTTP/1.1 alive unless close, HTTP/1.0 only with keep-alive; notes 100-continue', () => {
    const close = req('GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n');
    assert.equal(close.kind === 'head' && close.head.keepAlive, false);
    const ten = req('GET / HTTP/1.0\r\n\r\n');
    assert.equal(ten.kind === 'head' && ten.head.keepAlive, false);
    const tenKa = req('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(tenKa.kind === 'head' && tenKa.head.keepAlive, true);
    const cont = req('PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n');
    assert.equal(cont.kind === 'head' && cont.head.expectContinue, true);
  });
});

describe('parseResponseHead', () => {
  it('reads the status and decides the framing, with no body for HEAD, 204 and 304', () => {
    const ok = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    assert.equal(ok.kind === 'head' && ok.head.status, 200);
    assert.deepEqual(ok.kind === 'head' && ok.head.framing, { kind: 'length', length: 5 });
    const head = res('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n', 'HEAD');
    assert.deepEqual(head.kind === 'head' && head.head.framing, { kind: 'length', length: 0 });
    const noContent = res('HTTP/1.1 204 No Content\r\n\r\n');
    assert.deepEqual(noContent.kind === 'head' && noContent.head.framing, { kind: 'length', length: 0 });
    const noReason = res('HTTP/1.1 404\r\ncontent-length: 0\r\n\r\n');
    assert.equal(noReason.kind === 'head' && noReason.head.status, 404);
  });

  it('reads a body without length as running until close, and that connection is not kept', () => {
    const p = res('HTTP/1.0 200 OK\r\n\r\n');
    assert.deepEqual(p.kind === 'head' && [p.head.framing, p.head.keepAlive], [{ kind: 'close' }, false]);
  });

  it('refuses a malformed status line, a status below 100, or conflicting lengths', () => {
    assert.equal(res('HTTP/1.1 2000 OK\r\n\r\n').kind, 'error');
    assert.equal(res('HTTP/1.1 099 Odd\r\n\r\n').kind, 'error');
    assert.equal(res('HTTP/1.1 000 Zero\r\n\r\n').kind, 'error');
    assert.equal(res('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n').kind, 'error');
  });

  it('never keeps alive an HTTP/1.0 response that carried Transfer-Encoding (faulty framing, RFC 9112 §6.1)', () => {
    const p = res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(p.kind === 'head' && p.head.keepAlive, false);
    const ok = res('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n');
    assert.equal(ok.kind === 'head' && ok.head.keepAlive, true);
  });
});

describe('isWritableField', () => {
  it('refuses a value with CR, LF, NUL or another control character, and a name that is not a token', () => {
    assert.equal(isWritableField('x-a', 'plain value\twith tab'), true);
    assert.equal(isWritableField('x-a', 'caf\u00e9'), true, 'obs-text is allowed');
    for (const v of ['a\r\nset-cookie: x=1', 'a\nb', 'a\rb', 'a\u0000b', 'a\u007fb']) assert.equal(isWritableField('x-a', v), false, JSON.stringify(v));
    for (const n of ['x a', 'x:a', '', 'x\r\ny']) assert.equal(isWritableField(n, 'v'), false, JSON.stringify(n));
  });
});

describe('endToEndHeaders', () => {
  it('drops hop-by-hop headers and the ones the Connection header names', () => {
    const out = endToEndHeaders([['connection', 'keep-alive, x-private'], ['keep-alive', 'timeout=5'], ['x-private', '1'], ['transfer-encoding', 'chunked'], ['x-kept', 'yes']]);
    assert.deepEqual(out, [['x-kept', 'yes']]);
  });
});
