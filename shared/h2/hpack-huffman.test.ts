import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, randomIndex } from '../seeded-random.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './hpack-huffman.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function decodeAll(buf: Buffer): string | null {
  return huffmanDecode(buf, 0, buf.length);
}

function encode(s: string): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(s));
  assert.equal(huffmanEncode(s, out, 0), out.length);
  return out;
}

describe('HPACK Huffman code', () => {
  // RFC 7541 Appendix C.4 and C.6 string literals
  const examples: [string, string][] = [
    ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
    ['a8eb 1064 9cbf', 'no-cache'],
    ['25a8 49e9 5ba9 7d7f', 'custom-key'],
    ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
    ['6402', '302'],
    ['aec3 771a 4b', 'private'],
    ['d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3', 'https://www.example.com'],
  ];
  for (const [coded, text] of examples) {
    it(`decodes the RFC 7541 example ${JSON.stringify(text)} and encodes it back to the same bytes`, () => {
      assert.equal(decodeAll(hex(coded)), text);
      assert.equal(huffmanEncodedLength(text), hex(coded).length);
      assert.deepEqual(encode(text), hex(coded));
    });
  }

  it('decodes an empty string', () => {
    assert.equal(decodeAll(Buffer.alloc(0)), '');
  });

  it('round-trips every octet 0..255 as latin1', () => {
    let all = '';
    for (let c = 0; c < 256; c++) all += String.fromCharCode(c);
    assert.equal(decodeAll(encode(all)), all);
    for (let c = 0; c < 256; c++) assert.equal(decodeAll(encode(String.fromCharCode(c).repeat(3))), String.fromCharCode(c).repeat(3));
  });

  it('round-trips 500 random strings of random lengths', () => {
    const random = seededRandom(7541);
    for (let n = 0; n < 500; n++) {
      let s = '';
      const len = randomIndex(random, 200);
      for (let i = 0; i < len; i++) s += String.fromCharCode(randomIndex(random, 256));
      assert.equal(decodeAll(encode(s)), s);
    }
  });

  it('decodes a slice in the middle of a larger buffer', () => {
    const buf = Buffer.concat([hex('0000'), hex('a8eb 1064 9cbf'), hex('00')]);
    assert.equal(huffmanDecode(buf, 2, 8), 'no-cache');
  });

  it('accepts exactly 7 bits of 1s as padding', () => {
    // 'a' is 00011 (5 bits): five of them are 25 bits, leaving 7 padding bits in the fourth byte.
    const coded = encode('aaaaa');
    assert.equal(coded.length, 4);
    assert.equal(coded[3]! & 0x7f, 0x7f);
    assert.equal(decodeAll(coded), 'aaaaa');
  });

  it('rejects padding longer than 7 bits', () => {
    assert.equal(decodeAll(Buffer.concat([hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'), hex('ff')])), null);
    assert.equal(decodeAll(hex('ff')), null);
  });

  it('rejects padding that is not all 1s', () => {
    // 'a' (00011) followed by 000 instead of 111
    assert.equal(decodeAll(hex('18')), null);
    assert.equal(decodeAll(hex('1f')), 'a');
    const coded = encode('aaaaa');
    coded[3] = coded[3]! & 0xfe;
    assert.equal(decodeAll(coded), null);
  });

  it('rejects a string that contains the EOS symbol', () => {
    // EOS is thirty 1 bits
    assert.equal(decodeAll(hex('ffff ffff')), null);
    // 'a' then EOS then padding
    assert.equal(decodeAll(hex('1fff ffff ff')), null);
  });

  it('rejects a range outside the buffer instead of reading past it', () => {
    assert.equal(huffmanDecode(hex('1f'), 0, 2), null);
    assert.equal(huffmanDecode(hex('1f'), -1, 1), null);
    assert.equal(huffmanDecode(hex('1f'), 1, 0), null);
  });
});
