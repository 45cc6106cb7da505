import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHboneAuthority, parseHboneAuthority } from './authority.js';

describe('HBONE CONNECT authority', () => {
  it('accepts a literal IPv4:port', () => {
    assert.deepEqual(parseHboneAuthority('10.1.2.3:8080'), { ok: true, authority: { ip: '10.1.2.3', port: 8080 } });
  });

  it('accepts a bracketed IPv6:port and formats it back', () => {
    const r = parseHboneAuthority('[fd00::1]:80');
    assert.ok(r.ok);
    assert.equal(formatHboneAuthority(r.authority), '[fd00::1]:80');
  });

  // reliability case 8, plus smuggling-style variants
  for (const bad of ['abc', '1.2.3.4', '1.2.3.4:0', '1.2.3.4:70000', '[fe80::1%eth0]:80', `${'1'.repeat(300)}:80`, '1.2.3.4:80/path',
    'example.com:80', '1.2.3.4:080', '01.2.3.4:80', '1.2.3:80', '[1.2.3.4]:80', ' 1.2.3.4:80', '1.2.3.4:80 ', '::1:80', '', '1.2.3.4:-1']) {
    it(`rejects ${JSON.stringify(bad.slice(0, 40))}`, () => {
      assert.equal(parseHboneAuthority(bad).ok, false);
    });
  }

  it('rejects a missing or non-string authority', () => {
    assert.equal(parseHboneAuthority(undefined).ok, false);
    assert.equal(parseHboneAuthority(['1.2.3.4:80']).ok, false);
  });
});
