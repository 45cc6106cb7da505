import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePath } from './normalize-path.js';

describe('normalizePath()', () => {
  // [input, expected path] with the defaults (BASE + MERGE_SLASHES, %2F/%5C kept).
  const table: [string, string][] = [
    ['/a/b', '/a/b'],
    ['/a/../b', '/b'],
    ['/a/./b', '/a/b'],
    ['/public/./data/abc/../xyz', '/public/data/xyz'],
    ['/..', '/'],
    ['/../../etc', '/etc'],
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['//a', '/a'],
    ['/a//b///c', '/a/b/c'],
    ['/a%2Fb', '/a%2Fb'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%5cb', '/a%5Cb'],
    ['/a\\b', '/a/b'],
    ['/a%2e%2e/b', '/a../b'],
    ['/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%41%42%7e%5f%2d', '/AB~_-'],
    ['/a%20b', '/a%20b'],
    ['/a%3fb', '/a%3Fb'],
    ['/a%252e', '/a%252e'],
    ['/a?x=/admin', '/a'],
    ['/a#frag', '/a'],
    ['/a?x=1#f', '/a'],
    ['*', '*'],
  ];
  for (const [input, expected] of table) {
    it(`normalizes ${JSON.stringify(input)} to ${JSON.stringify(expected)}`, () => {
      const r = normalizePath(input);
      assert.ok(!('error' in r), JSON.stringify(r));
      assert.equal(r.path, expected);
    });
  }

  it('keeps the query (without the fragment) apart for forwarding', () => {
    assert.deepEqual(normalizePath('/a/../b?x=/admin#top'), { path: '/b', query: '?x=/admin' });
  });

  it('decodes encoded slashes only with decodeSlashes, then merges them', () => {
    assert.equal((normalizePath('/a%2Fb', { decodeSlashes: true }) as { path: string }).path, '/a/b');
    assert.equal((normalizePath('/a%2f%2fb', { decodeSlashes: true }) as { path: string }).path, '/a/b');
    assert.equal((normalizePath('/a%5C..%5Cadmin', { decodeSlashes: true }) as { path: string }).path, '/admin');
  });

  it('keeps double slashes when mergeSlashes is off (Istio BASE)', () => {
    assert.equal((normalizePath('//a//b', { mergeSlashes: false }) as { path: string }).path, '//a//b');
  });

  it('is idempotent: a normalized path normalizes to itself', () => {
    for (const [input] of table) {
      const once = normalizePath(input) as { path: string };
      assert.equal((normalizePath(once.path) as { path: string }).path, once.path, input);
    }
  });

  for (const [input, reason] of [
    ['/a%00b', /NUL/],
    ['/a\u0000b', /forbidden character \(0x00\)/],
    ['/a b', /forbidden character/],
    ['/a\r\nb', /forbidden character/],
    ['/a%zz', /invalid percent-encoding/],
    ['/a%4', /invalid percent-encoding/],
    ['/caf\u00e9', /forbidden character/],
    ['a/b', /must start with/],
    ['', /must start with/],
    ['http://evil/admin', /must start with/],
  ] as const) {
    it(`refuses ${JSON.stringify(input)}`, () => {
      const r = normalizePath(input);
      assert.ok('error' in r, JSON.stringify(r));
      assert.match(r.error, reason);
    });
  }
});
