import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHeaders } from './header-fields.js';
import type { HeaderField } from './hpack-decoder.js';

const connect: HeaderField[] = [[':method', 'CONNECT'], [':authority', '10.0.0.1:8080']];

function request(...extra: HeaderField[]): ReturnType<typeof buildHeaders> {
  return buildHeaders([...connect, ...extra], 'request');
}

function rejected(result: ReturnType<typeof buildHeaders>, pattern: RegExp): void {
  assert.equal(typeof result, 'string', `expected a rejection, got ${JSON.stringify(result)}`);
  assert.match(result as string, pattern);
}

describe('buildHeaders', () => {
  it('turns a valid CONNECT request into a null-prototype object with its pseudo-headers', () => {
    const h = request(['baggage', 'k=v'], ['x-empty', '']);
    assert.equal(typeof h, 'object');
    assert.equal(Object.getPrototypeOf(h), null);
    assert.deepEqual({ ...(h as object) }, { ':method': 'CONNECT', ':authority': '10.0.0.1:8080', baggage: 'k=v', 'x-empty': '' });
  });

  it('accepts every request pseudo-header and only :status in a response', () => {
    assert.equal(typeof buildHeaders([[':method', 'CONNECT'], [':scheme', 'https'], [':authority', 'a'], [':path', '/'], [':protocol', 'websocket']], 'request'), 'object');
    assert.equal(typeof buildHeaders([[':status', '200'], ['server', 'x']], 'response'), 'object');
    rejected(buildHeaders([[':status', '200']], 'request'), /unknown pseudo-header :status/);
    rejected(buildHeaders([[':status', '200'], [':path', '/']], 'response'), /unknown pseudo-header :path/);
    rejected(request([':foo', 'x']), /unknown pseudo-header :foo/);
  });

  it('rejects a pseudo-header after a regular field, and accepts it before', () => {
    rejected(buildHeaders([[':method', 'CONNECT'], ['a', 'b'], [':authority', 'x']], 'request'), /after a regular field/);
    assert.equal(typeof buildHeaders([[':method', 'CONNECT'], [':authority', 'x'], ['a', 'b']], 'request'), 'object');
  });

  it('rejects a repeated pseudo-header', () => {
    rejected(buildHeaders([[':method', 'CONNECT'], [':method', 'CONNECT'], [':authority', 'x']], 'request'), /repeated pseudo-header :method/);
    rejected(buildHeaders([[':status', '200'], [':status', '204']], 'response'), /repeated pseudo-header/);
  });

  it('rejects an empty name', () => rejected(request(['', 'x']), /empty header name/));

  it('rejects connection-specific fields (RFC 9113 §8.2.2) and accepts look-alikes', () => {
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) rejected(request([name, 'x']), /connection-specific/);
    assert.equal(typeof request(['connection-id', 'x'], ['upgrade-insecure-requests', '1']), 'object');
  });

  it('accepts te: trailers only', () => {
    assert.equal(typeof request(['te', 'trailers']), 'object');
    rejected(request(['te', 'gzip']), /te other than trailers/);
    rejected(request(['te', 'trailers, gzip']), /te other than trailers/);
  });

  it('rejects names with uppercase, space, controls, DEL, non-ASCII or a colon past the first', () => {
    for (const name of ['X-Upper', 'a b', 'a\tb', 'a\x00b', 'a\x7fb', 'caf\u00e9', 'a:b']) rejected(request([name, 'v']), /invalid header name/);
    rejected(buildHeaders([[':Method', 'CONNECT']], 'request'), /unknown pseudo-header|invalid header name/);
    assert.equal(typeof request(['x-token!#$%&\'*+-.^_`|~09az', 'v']), 'object');
  });

  it('rejects values with NUL, LF or CR anywhere, and accepts other bytes', () => {
    for (const value of ['a\x00b', 'a\nb', 'a\rb', '\r', '\n']) rejected(request(['x', value]), /invalid value/);
    assert.equal(typeof request(['x', 'a\x01b\x7f\u00ffc d\te']), 'object');
  });

  it('rejects values starting or ending with a space or tab, and accepts inner whitespace', () => {
    for (const value of [' a', 'a ', '\ta', 'a\t', ' ']) rejected(request(['x', value]), /whitespace/);
    assert.equal(typeof request(['x', 'a b\tc']), 'object');
  });

  it('joins repeated fields with ", " and cookies with "; "', () => {
    const h = request(['accept', 'a'], ['cookie', 'c=1'], ['accept', 'b'], ['cookie', 'd=2']) as Record<string, string>;
    assert.equal(h['accept'], 'a, b');
    assert.equal(h['cookie'], 'c=1; d=2');
  });

  it('is not fooled by names that exist on Object.prototype', () => {
    const h = request(['constructor', 'x'], ['__proto__', 'y']) as Record<string, string>;
    assert.equal(h['constructor'], 'x');
    assert.equal(Object.getOwnPropertyDescriptor(h, '__proto__')?.value, 'y');
  });

  it('requires :method in a request, and a three-digit :status in a response (RFC 9113 §8.3)', () => {
    rejected(buildHeaders([[':authority', 'a:1']], 'request'), /no :method/);
    rejected(buildHeaders([[':method', ''], [':authority', 'a:1']], 'request'), /no :method/);
    rejected(buildHeaders([['server', 'x']], 'response'), /bad :status undefined/);
    for (const status of ['abc', '20', '2000', '099', ' 200', '']) rejected(buildHeaders([[':status', status]], 'response'), /bad :status|whitespace/);
    for (const status of ['100', '200', '599']) assert.equal(typeof buildHeaders([[':status', status]], 'response'), 'object');
  });

  it('requires :authority and forbids :scheme and :path in a plain CONNECT (RFC 9113 §8.5)', () => {
    rejected(buildHeaders([[':method', 'CONNECT']], 'request'), /CONNECT without :authority/);
    rejected(buildHeaders([[':method', 'CONNECT'], [':authority', '']], 'request'), /CONNECT without :authority/);
    rejected(request([':path', '/']), /pseudo-header :path after a regular field|CONNECT with :scheme or :path/);
    rejected(buildHeaders([[':method', 'CONNECT'], [':authority', 'a:1'], [':scheme', 'https']], 'request'), /CONNECT with :scheme or :path/);
    rejected(buildHeaders([[':method', 'CONNECT'], [':authority', 'a:1'], [':path', '/']], 'request'), /CONNECT with :scheme or :path/);
  });

  it('requires :scheme and a non-empty :path in other requests, and :protocol only on CONNECT', () => {
    assert.equal(typeof buildHeaders([[':method', 'GET'], [':scheme', 'https'], [':path', '/']], 'request'), 'object');
    rejected(buildHeaders([[':method', 'GET'], [':path', '/']], 'request'), /no :scheme/);
    rejected(buildHeaders([[':method', 'GET'], [':scheme', 'https']], 'request'), /no :path/);
    rejected(buildHeaders([[':method', 'GET'], [':scheme', 'https'], [':path', '']], 'request'), /no :path/);
    rejected(buildHeaders([[':method', 'GET'], [':scheme', 'https'], [':path', '/'], [':protocol', 'websocket']], 'request'), /:protocol on a request other than CONNECT/);
    rejected(buildHeaders([[':method', 'CONNECT'], [':authority', 'a'], [':protocol', 'websocket']], 'request'), /no :scheme/);
  });
});
