import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isMeshError } from '../errors.js';
import { formatIdentity, parseIdentity, tryParseIdentity } from './spiffe.js';

describe('SPIFFE identity', () => {
  it('parses the one accepted shape into its parts', () => {
    assert.deepEqual(parseIdentity('spiffe://cluster.local/ns/default/sa/bookinfo-productpage'), {
      trustDomain: 'cluster.local',
      namespace: 'default',
      serviceAccount: 'bookinfo-productpage',
    });
  });

  it('formats what it parses back to the same string', () => {
    const uri = 'spiffe://td_1.example-org/ns/a-b/sa/x.y-z';
    assert.equal(formatIdentity(parseIdentity(uri)), uri);
  });

  const rejected: [string, string][] = [
    ['wrong scheme', 'https://cluster.local/ns/default/sa/x'],
    ['uppercase scheme', 'SPIFFE://cluster.local/ns/default/sa/x'],
    ['no path', 'spiffe://cluster.local'],
    ['extra path segment', 'spiffe://cluster.local/ns/default/sa/x/extra'],
    ['trailing slash', 'spiffe://cluster.local/ns/default/sa/x/'],
    ['missing sa key', 'spiffe://cluster.local/ns/default/x/y'],
    ['swapped keys', 'spiffe://cluster.local/sa/x/ns/default'],
    ['empty namespace', 'spiffe://cluster.local/ns//sa/x'],
    ['empty service account', 'spiffe://cluster.local/ns/default/sa/'],
    ['empty trust domain', 'spiffe:///ns/default/sa/x'],
    ['percent-encoded slash', 'spiffe://cluster.local/ns/default%2Fsa/sa/x'],
    ['percent-encoded letter', 'spiffe://cluster.local/ns/d%65fault/sa/x'],
    ['NUL byte', 'spiffe://cluster.local/ns/default/sa/x\u0000y'],
    ['newline', 'spiffe://cluster.local/ns/default/sa/x\n'],
    ['space', 'spiffe://cluster.local/ns/def ault/sa/x'],
    ['dot segment', 'spiffe://cluster.local/ns/../sa/x'],
    ['single dot namespace', 'spiffe://cluster.local/ns/./sa/x'],
    ['port in trust domain', 'spiffe://cluster.local:443/ns/default/sa/x'],
    ['userinfo', 'spiffe://user@cluster.local/ns/default/sa/x'],
    ['query', 'spiffe://cluster.local/ns/default/sa/x?y=1'],
    ['fragment', 'spiffe://cluster.local/ns/default/sa/x#frag'],
    ['uppercase trust domain', 'spiffe://Cluster.local/ns/default/sa/x'],
    ['uppercase namespace', 'spiffe://cluster.local/ns/Default/sa/x'],
    ['non-ASCII', 'spiffe://cluster.local/ns/défault/sa/x'],
    ['empty trust-domain label', 'spiffe://cluster..local/ns/default/sa/x'],
    ['namespace too long', `spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/x`],
    ['over 2048 characters', `spiffe://${'a'.repeat(2100)}/ns/default/sa/x`],
    ['empty string', ''],
  ];
  for (const [name, uri] of rejected) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseIdentity(uri), (err) => isMeshError(err, 'INVALID_IDENTITY'));
      assert.equal(tryParseIdentity(uri), undefined);
    });
  }

  it('refuses to format an identity with a bad part', () => {
    assert.throws(() => formatIdentity({ trustDomain: 'cluster.local', namespace: 'a/b', serviceAccount: 'x' }));
  });
});
