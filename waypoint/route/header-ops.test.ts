import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyHeaderOps, concatHeaderOps, headerOps, noHeaderOps } from './header-ops.js';

describe('applyHeaderOps', () => {
  it('sets, appends and removes like the conformance RequestHeaderModifier case', () => {
    const ops = headerOps([['X-Header-Set', 'set-overwrites-values']], [['X-Header-Add', 'header-val-1'], ['X-Header-Add-Append', 'header-val-2']], ['X-Header-Remove']);
    const out = applyHeaderOps([['x-header-remove', 'remove-val'], ['x-header-add-append', 'append-val-1'], ['x-header-set', 'set-val'], ['accept', '*/*']], ops);
    assert.deepEqual(out, [
      ['x-header-add-append', 'append-val-1'],
      ['x-header-set', 'set-overwrites-values'],
      ['accept', '*/*'],
      ['x-header-add', 'header-val-1'],
      ['x-header-add-append', 'header-val-2'],
    ]);
  });

  it('replaces every value of a repeated header with one set value at the first position', () => {
    const out = applyHeaderOps([['a', '1'], ['b', '2'], ['A', '3']], headerOps([['a', 'x']], [], []));
    assert.deepEqual(out, [['a', 'x'], ['b', '2']]);
  });

  it('adds a set header that was absent at the end', () => {
    assert.deepEqual(applyHeaderOps([['b', '2']], headerOps([['New', 'v']], [], [])), [['b', '2'], ['new', 'v']]);
  });

  it('removes before it adds, as Envoy does, so a header both removed and added ends up added', () => {
    assert.deepEqual(applyHeaderOps([['x', 'old']], headerOps([], [['x', 'new']], ['x'])), [['x', 'new']]);
  });

  it('returns a copy and leaves the input alone when there is nothing to do', () => {
    const input: [string, string][] = [['a', '1']];
    const out = applyHeaderOps(input, noHeaderOps);
    assert.deepEqual(out, input);
    assert.notEqual(out, input);
  });

  it('concatenates route and destination ops in that order', () => {
    const a = headerOps([['a', '1']], [], []);
    const b = headerOps([['b', '2']], [], ['c']);
    assert.deepEqual(concatHeaderOps(a, b), { set: [['a', '1'], ['b', '2']], add: [], remove: ['c'] });
    assert.equal(concatHeaderOps(a, noHeaderOps), a);
  });
});
