import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFullMatchRegex } from './regex.js';
import { matchInput, matchPath, matchRequest, queryParam } from './route-match.js';

const prefix = (value: string) => ({ kind: 'prefix' as const, value, ignoreCase: false, segments: true });

describe('path matching', () => {
  it('matches a Gateway API PathPrefix by whole path elements', () => {
    assert.equal(matchPath(prefix('/foo'), '/foo'), true);
    assert.equal(matchPath(prefix('/foo'), '/foo/'), true);
    assert.equal(matchPath(prefix('/foo'), '/foo/bar'), true);
    assert.equal(matchPath(prefix('/foo'), '/foobar'), false);
    assert.equal(matchPath(prefix('/foo/'), '/foo'), true);
    assert.equal(matchPath(prefix('/'), '/anything'), true);
  });
  it('matches an Istio prefix as a plain string prefix, optionally ignoring case', () => {
    assert.equal(matchPath({ kind: 'prefix', value: '/foo', ignoreCase: false, segments: false }, '/foobar'), true);
    assert.equal(matchPath({ kind: 'prefix', value: '/Foo', ignoreCase: true, segments: false }, '/fOO/x'), true);
    assert.equal(matchPath({ kind: 'exact', value: '/a', ignoreCase: false }, '/A'), false);
  });
  it('matches a regex against the whole path only', () => {
    const r = compileFullMatchRegex('/v[0-9]+');
    assert.ok('re' in r);
    assert.equal(matchPath({ kind: 'regex', re: r.re }, '/v12'), true);
    assert.equal(matchPath({ kind: 'regex', re: r.re }, '/v12/x'), false);
    assert.equal(matchPath({ kind: 'regex', re: r.re }, '/api/v12'), false);
  });
});

describe('compileFullMatchRegex', () => {
  it('turns a leading (?i) into a case-insensitive match', () => {
    const r = compileFullMatchRegex('(?i)/abc');
    assert.ok('re' in r && r.re.test('/ABC'));
  });
  it('returns an error value for a pattern that does not compile', () => {
    const r = compileFullMatchRegex('/a(b');
    assert.ok('error' in r);
    assert.match(r.error, /does not compile/);
  });
  it('refuses nested unbounded quantifiers, which backtrack exponentially, and keeps safe repeats', () => {
    for (const bad of ['(a+)+', '/(x*)*y', '(a|b+){2,}', '((ab)+c)*']) assert.ok('error' in compileFullMatchRegex(bad), bad);
    for (const ok of ['/api/v[0-9]+/.*', '(ab)+', '(a|b)*c', '[(+]+', '(a+)?', '\\(a+\\)+', '(?P<v>[0-9]+)/x']) assert.ok('re' in compileFullMatchRegex(ok), ok);
  });
  it('refuses RE2 escapes JavaScript would read as something else', () => {
    assert.ok('error' in compileFullMatchRegex('/a\\z'));
    assert.ok('error' in compileFullMatchRegex('\\p{Greek}+'));
  });
  it('refuses backreferences and lookaround, which RE2 lacks', () => {
    for (const bad of ['(a)\\1', '(?=x)x', '(?<!y)x']) assert.ok('error' in compileFullMatchRegex(bad), bad);
  });
});

describe('matchRequest', () => {
  const head = { method: 'GET', path: '/p?a=1&b=x%20y&a=2', authority: 'echo', headers: [['x-v', 'one'], ['x-v', 'two']] as [string, string][] };
  it('matches a repeated header against its values joined with a comma', () => {
    const m = { headers: [{ name: 'x-v', match: { kind: 'exact' as const, value: 'one,two' } }], queryParams: [] };
    assert.equal(matchRequest(m, matchInput(head, 80)), true);
  });
  it('reads the first value of a query parameter, decoded', () => {
    assert.equal(queryParam('a=1&b=x%20y&a=2', 'a'), '1');
    assert.equal(queryParam('a=1&b=x%20y&a=2', 'b'), 'x y');
    assert.equal(queryParam('flag', 'flag'), '');
    assert.equal(queryParam('', 'a'), undefined);
  });
  it('requires every condition: ports, method, headers and query', () => {
    const m = {
      method: { kind: 'exact' as const, value: 'GET' },
      headers: [{ name: 'x-v', match: { kind: 'prefix' as const, value: 'one' } }],
      queryParams: [{ name: 'b', match: { kind: 'exact' as const, value: 'x y' } }],
      ports: new Set([80]),
    };
    assert.equal(matchRequest(m, matchInput(head, 80)), true);
    assert.equal(matchRequest(m, matchInput(head, 8081)), false);
    assert.equal(matchRequest(m, matchInput({ ...head, method: 'POST' }, 80)), false);
    assert.equal(matchRequest(m, matchInput({ ...head, path: '/p?b=z' }, 80)), false);
  });
  it('fails a sourceLabels match when the client labels are unknown or differ', () => {
    const m = { headers: [], queryParams: [], sourceLabels: { app: 'web' } };
    assert.equal(matchRequest(m, matchInput(head, 80)), false);
    assert.equal(matchRequest(m, matchInput(head, 80, { app: 'db' })), false);
    assert.equal(matchRequest(m, matchInput(head, 80, { app: 'web', v: '1' })), true);
  });
});
