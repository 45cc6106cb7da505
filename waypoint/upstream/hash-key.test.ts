import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildHashKey, hashContextFromHead } from './hash-key.js';

const head = {
  path: '/cart?user=ann&x=1',
  headers: [
    ['x-user', 'b'],
    ['cookie', 'session=abc; theme=dark'],
    ['x-user', 'a'],
    ['cookie', 'other=1; session=shadowed'],
  ] as [string, string][],
};
const ctx = hashContextFromHead(head, '10.0.0.7');

describe('buildHashKey', () => {
  it('reads a header case-insensitively, hashing all its values whatever their order', () => {
    assert.equal(buildHashKey({ httpHeaderName: 'X-User' }, ctx), 'a\nb');
    const swapped = hashContextFromHead({ ...head, headers: [['x-user', 'a'], ['x-user', 'b']] });
    assert.equal(buildHashKey({ httpHeaderName: 'x-user' }, swapped), 'a\nb');
    assert.equal(buildHashKey({ httpHeaderName: 'x-none' }, ctx), undefined);
  });

  it('reads a cookie across cookie headers, the first occurrence winning', () => {
    assert.equal(buildHashKey({ httpCookie: { name: 'session' } }, ctx), 'abc');
    assert.equal(buildHashKey({ httpCookie: { name: 'other' } }, ctx), '1');
    assert.equal(buildHashKey({ httpCookie: { name: 'missing', ttlMs: 1000 } }, ctx), undefined);
  });

  it('reads the source IP and a query parameter', () => {
    assert.equal(buildHashKey({ useSourceIp: true }, ctx), '10.0.0.7');
    assert.equal(buildHashKey({ useSourceIp: true }, hashContextFromHead(head)), undefined);
    assert.equal(buildHashKey({ httpQueryParameterName: 'user' }, ctx), 'ann');
    assert.equal(buildHashKey({ httpQueryParameterName: 'user' }, hashContextFromHead({ path: '/x', headers: [] })), undefined);
  });
});
