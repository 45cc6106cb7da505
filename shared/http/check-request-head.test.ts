import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRequestHead } from './check-request-head.js';
import type { RequestHead } from './request-head.js';

const head = (over: Partial<RequestHead> = {}): RequestHead => ({ method: 'GET', path: '/a?b=1', authority: 'echo.demo:8080', headers: [['accept', '*/*']], ...over });

describe('checkRequestHead()', () => {
  it('accepts a well-formed request, extension methods and OPTIONS *', () => {
    assert.deepEqual(checkRequestHead(head()), { ok: true });
    assert.deepEqual(checkRequestHead(head({ method: 'PROPFIND' })), { ok: true });
    assert.deepEqual(checkRequestHead(head({ method: 'OPTIONS', path: '*' })), { ok: true });
    assert.deepEqual(checkRequestHead(head({ headers: [['host', 'echo'], ['content-length', '5'], ['content-length', '5']] })), { ok: true });
    for (const authority of ['echo', '10.96.0.10:80', '[fd00::1]:8080', '[::1]', 'a-b.c_d~e']) assert.deepEqual(checkRequestHead(head({ authority })), { ok: true }, authority);
  });

  const refused: [string, Partial<RequestHead>, RegExp][] = [
    ['a lowercase method', { method: 'get' }, /upper-case/],
    ['a mixed-case method', { method: 'Get' }, /upper-case/],
    ['a method that is not a token', { method: 'GE T' }, /token/],
    ['an empty method', { method: '' }, /token/],
    ['a NUL in the path', { path: '/a\u0000b' }, /forbidden character/],
    ['an encoded NUL in the path', { path: '/a%00' }, /NUL/],
    ['a CR LF in the path', { path: '/a\r\nHost: evil' }, /forbidden character/],
    ['a space in the path', { path: '/a b' }, /forbidden character/],
    ['bad percent-encoding', { path: '/%G0' }, /percent-encoding/],
    ['an empty path', { path: '' }, /empty/],
    ['a relative path', { path: 'admin' }, /start with/],
    ['a missing authority', { authority: '' }, /missing/],
    ['userinfo in the authority', { authority: 'user@echo' }, /userinfo/],
    ['a space in the authority', { authority: 'echo demo' }, /host/],
    ['an unbracketed IPv6 authority', { authority: 'fd00::1' }, /host|port/],
    ['a non-numeric port', { authority: 'echo:http' }, /port/],
    ['a port out of range', { authority: 'echo:70000' }, /range|port/],
    ['a header name that is not a token', { headers: [['bad name', 'x']] }, /header name/],
    ['a CR in a header value', { headers: [['x', 'a\rb']] }, /NUL, CR or LF/],
    ['two Host headers', { headers: [['host', 'a'], ['host', 'b']] }, /Host/],
    ['Transfer-Encoding with Content-Length', { headers: [['transfer-encoding', 'chunked'], ['content-length', '5']] }, /both/],
    ['conflicting Content-Length values', { headers: [['content-length', '5'], ['content-length', '6']] }, /Content-Length/],
    ['a non-numeric Content-Length', { headers: [['content-length', '-1']] }, /Content-Length/],
  ];
  for (const [what, over, reason] of refused) {
    it(`refuses ${what} with 400`, () => {
      const r = checkRequestHead(head(over));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.status, 400);
      assert.match(r.reason, reason);
    });
  }
});
