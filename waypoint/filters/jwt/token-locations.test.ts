import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultTokenLocations, extractTokens, tokenLocations, withoutQueryParam } from './token-locations.js';

const head = (headers: [string, string][], path = '/') => ({ method: 'GET', path, authority: 'h', headers });

describe('token locations', () => {
  it('uses Authorization Bearer and access_token only when a rule names no location', () => {
    const base = { issuer: 'i', audiences: [], fromHeaders: [], fromParams: [], fromCookies: [], forwardOriginalToken: false, outputClaimToHeaders: [] };
    assert.equal(tokenLocations(base), defaultTokenLocations);
    assert.deepEqual(tokenLocations({ ...base, fromCookies: ['s'] }), [{ kind: 'cookie', name: 's' }]);
    assert.deepEqual(tokenLocations({ ...base, fromHeaders: [{ name: 'X-Token' }] }), [{ kind: 'header', name: 'x-token', prefix: '' }]);
  });

  it('yields one token per value of a repeated header, and the first value of a parameter or cookie', () => {
    const found = extractTokens(
      head([['authorization', 'Bearer a.b.c'], ['authorization', 'Bearer d.e.f'], ['cookie', 's=1'], ['cookie', 's=2; t="q.r.s"']], '/p?access_token=x%2Ey&access_token=zz'),
      [...defaultTokenLocations, { kind: 'cookie', name: 's' }, { kind: 'cookie', name: 't' }],
    );
    assert.deepEqual(found.map((f) => f.token), ['a.b.c', 'd.e.f', 'x.y', '1', 'q.r.s']);
  });

  it('removes only the named parameter from the path, keeping the others byte for byte', () => {
    assert.equal(withoutQueryParam('/p?access_token=t', 'access_token'), '/p');
    assert.equal(withoutQueryParam('/p?a=%41&access_token=t&b', 'access_token'), '/p?a=%41&b');
    assert.equal(withoutQueryParam('/p?access%5Ftoken=t&c=1', 'access_token'), '/p?c=1');
    assert.equal(withoutQueryParam('/p', 'access_token'), '/p');
  });
});
