import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identityOf } from './context.js';

describe('identityOf()', () => {
  it('returns the same Identity for the same workload object, with its three fields only', () => {
    const w = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client', uid: 'x' };
    const id = identityOf(w);
    assert.equal(identityOf(w), id);
    assert.deepEqual(id, { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client' });
  });

  it('gives a recompiled workload (a new object, same uid) its own identity, never the previous one', () => {
    const before = { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client', uid: 'x' };
    assert.equal(identityOf(before).serviceAccount, 'client');
    const after = { ...before, serviceAccount: 'renamed' };
    assert.equal(identityOf(after).serviceAccount, 'renamed');
    assert.equal(identityOf(before).serviceAccount, 'client');
  });
});
