import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { candidateKeys, parseJwks } from './jwks.js';
import { generateTestKey, jwksJson } from './jwt-test-signer.js';

const rsa = generateTestKey('RS256', { kid: 'r', omitAlg: true });
const p256 = generateTestKey('ES256', { kid: 'e256' });
const p384 = generateTestKey('ES384', { kid: 'e384' });
const ed = generateTestKey('EdDSA', { kid: 'ed' });

describe('parseJwks', () => {
  it('imports RSA, EC P-256/P-384 and Ed25519 keys, indexed by kid', () => {
    const r = parseJwks(jwksJson([rsa, p256, p384, ed]));
    assert.ok(r.ok);
    assert.deepEqual(r.jwks.keys.map((k) => [k.kid, k.kty]), [['r', 'RSA'], ['e256', 'EC'], ['e384', 'EC'], ['ed', 'OKP']]);
    assert.deepEqual(r.jwks.skipped, []);
  });

  it('lets an RSA key without alg verify every RS* and PS* algorithm, and binds EC keys to their curve', () => {
    const r = parseJwks(jwksJson([rsa, p256, p384]));
    assert.ok(r.ok);
    assert.deepEqual(candidateKeys(r.jwks, 'PS512', undefined).map((k) => k.kid), ['r']);
    assert.deepEqual(candidateKeys(r.jwks, 'ES384', undefined).map((k) => k.kid), ['e384']);
    assert.deepEqual(candidateKeys(r.jwks, 'ES512', undefined), []);
    assert.deepEqual(candidateKeys(r.jwks, 'ES256', 'e384'), []);
  });

  it('skips unusable keys with a reason and keeps the good ones', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' });
    const doc = {
      keys: [
        { kty: 'oct', k: 'c2VjcmV0', alg: 'HS256', kid: 'hmac' },
        { ...small, kid: 'small' },
        { ...x25519, kid: 'dh' },
        { ...p256.publicJwk, kid: 'enc', use: 'enc' },
        { ...p256.publicJwk, kid: 'mismatch', alg: 'ES384' },
        { kty: 'RSA', kid: 'broken', n: 'AQAB' },
        { kty: 'EC', crv: 'P-256', kid: 'off-curve', x: p256.publicJwk.x, y: p384.publicJwk.x },
        'not-an-object',
        { kid: 'no-kty' },
        ed.publicJwk,
      ],
    };
    const r = parseJwks(JSON.stringify(doc));
    assert.ok(r.ok);
    assert.deepEqual(r.jwks.keys.map((k) => k.kid), ['ed']);
    const reasons = new Map(r.jwks.skipped.map((s) => [s.kid ?? String(s.index), s.reason]));
    assert.match(reasons.get('hmac')!, /not supported/);
    assert.match(reasons.get('small')!, /1024 bits is under 2048/);
    assert.match(reasons.get('dh')!, /not an EdDSA curve/);
    assert.match(reasons.get('enc')!, /\[use\]/);
    assert.match(reasons.get('mismatch')!, /not compatible/);
    assert.match(reasons.get('broken')!, /missing/);
    assert.match(reasons.get('off-curve')!, /does not import/);
    assert.match(reasons.get('7')!, /not an object/);
    assert.match(reasons.get('no-kty')!, /kty/);
  });

  it('never loads private key material published by mistake', () => {
    const jwk = p256.privateKey.export({ format: 'jwk' });
    const r = parseJwks({ keys: [{ ...jwk, kid: 'oops' }] });
    assert.ok(r.ok);
    assert.equal(r.jwks.keys[0]!.key.type, 'public');
  });

  it('returns an error value for a set with no usable key, naming why', () => {
    const r = parseJwks(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] }));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /doesn't have any valid public key.*oct/);
  });

  it('returns an error value for text that is not a key set', () => {
    for (const [input, reason] of [
      ['{', /invalid JSON/],
      ['[]', /does not have \[keys\]/],
      ['{"keys":{}}', /not an array/],
      ['{"keys":[]}', /valid public key/],
    ] as const) {
      const r = parseJwks(input);
      assert.equal(r.ok, false, input);
      assert.match(!r.ok ? r.reason : '', reason);
    }
  });
});
