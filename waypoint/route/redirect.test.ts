import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { locationOrigin, replacePrefixMatch, replaceStringPrefix, splitAuthority } from './redirect.js';

describe('replacePrefixMatch (Gateway API HTTPPathModifier table)', () => {
  const table: [string, string, string, string][] = [
    ['/foo/bar', '/foo', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo', '/xyz/', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz', '/xyz/bar'],
    ['/foo/bar', '/foo/', '/xyz/', '/xyz/bar'],
    ['/foo', '/foo', '/xyz', '/xyz'],
    ['/foo/', '/foo', '/xyz', '/xyz/'],
    ['/foo/bar', '/foo', '', '/bar'],
    ['/foo/', '/foo', '', '/'],
    ['/foo', '/foo', '', '/'],
    ['/foo/', '/foo', '/', '/'],
    ['/foo', '/foo', '/', '/'],
    ['/prefix/x', '/prefix', '/new', '/new/x'],
    ['/prefix/x', '/prefix', '/', '/x'],
    ['/anything', '/', '/new', '/new/anything'],
  ];
  for (const [path, prefix, replacement, want] of table) {
    it(`rewrites ${path} with prefix ${prefix} replaced by ${JSON.stringify(replacement)} to ${want}`, () => {
      assert.equal(replacePrefixMatch(path, prefix, replacement), want);
    });
  }
});

describe('replaceStringPrefix (Istio rewrite.uri on a prefix match)', () => {
  it('replaces the matched characters only, as Envoy prefix_rewrite does', () => {
    assert.equal(replaceStringPrefix('/v1/api/x', '/v1/', '/v2/'), '/v2/api/x');
    assert.equal(replaceStringPrefix('/old', '/old', ''), '/');
  });
});

describe('locationOrigin', () => {
  const req = { scheme: 'http' as const, authority: 'echo:80', listenerPort: 80 };
  it('keeps the request host without its port and leaves out the well-known port', () => {
    assert.equal(locationOrigin({}, req), 'http://echo');
  });
  it('uses the listener (service) port when no scheme or port is configured', () => {
    assert.equal(locationOrigin({}, { ...req, authority: '10.96.0.10:8081', listenerPort: 8081 }), 'http://10.96.0.10:8081');
  });
  it('uses the scheme\'s well-known port when only the scheme is configured', () => {
    assert.equal(locationOrigin({ scheme: 'https' }, { ...req, listenerPort: 8081 }), 'https://echo');
  });
  it('writes a configured port unless it is the scheme\'s well-known one', () => {
    assert.equal(locationOrigin({ port: 8083 }, req), 'http://echo:8083');
    assert.equal(locationOrigin({ scheme: 'https', port: 443, hostname: 'example.org' }, req), 'https://example.org');
    assert.equal(locationOrigin({ scheme: 'https', port: 8443 }, req), 'https://echo:8443');
  });
  it('takes a port carried in an Istio redirect authority', () => {
    assert.equal(locationOrigin({ hostname: 'example.org:9000' }, req), 'http://example.org:9000');
  });
  it('keeps IPv6 brackets', () => {
    assert.deepEqual(splitAuthority('[fd00::1]:8080'), { host: '[fd00::1]', port: 8080 });
    assert.equal(locationOrigin({}, { ...req, authority: '[fd00::1]:80' }), 'http://[fd00::1]');
  });
});
