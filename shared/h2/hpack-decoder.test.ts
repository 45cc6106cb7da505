import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom, randomIndex } from '../seeded-random.js';
import { HpackDecoder, type HeaderField, type HpackDecodeResult } from './hpack-decoder.js';

function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

function fieldsOf(r: HpackDecodeResult): HeaderField[] {
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.fields;
}

/** Reads the whole dynamic table, newest first, through indexed fields 62.. (which do not change it). */
function tableOf(d: HpackDecoder): HeaderField[] {
  const block = Buffer.from(Array.from({ length: d.tableLength }, (_, i) => 0x80 | (62 + i)));
  return fieldsOf(d.decode(block));
}

function compressionReason(d: HpackDecoder, block: Buffer): string {
  const r = d.decode(block);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.error === 'compression', JSON.stringify(r));
  assert.ok(r.reason.length > 0);
  return r.reason;
}

const GET_HTTP: HeaderField[] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']];
const GET_NO_CACHE: HeaderField[] = [...GET_HTTP, ['cache-control', 'no-cache']];
const GET_CUSTOM: HeaderField[] = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']];
const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const LOCATION = 'https://www.example.com';
const R302: HeaderField[] = [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOCATION]];
const R307: HeaderField[] = [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOCATION]];
const R200: HeaderField[] = [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOCATION], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]];

type Step = { readonly input: string; readonly fields: HeaderField[]; readonly table: HeaderField[]; readonly tableBytes: number };

// RFC 7541 Appendix C.3-C.6: each sequence shares one decoder, as one connection would.
const SEQUENCES: { name: string; maxTableBytes: number; steps: Step[] }[] = [
  {
    name: 'C.3 requests without Huffman',
    maxTableBytes: 4096,
    steps: [
      { input: '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d', fields: GET_HTTP, table: [[':authority', 'www.example.com']], tableBytes: 57 },
      { input: '8286 84be 5808 6e6f 2d63 6163 6865', fields: GET_NO_CACHE, table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], tableBytes: 110 },
      {
        input: '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
        fields: GET_CUSTOM,
        table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
        tableBytes: 164,
      },
    ],
  },
  {
    name: 'C.4 requests with Huffman',
    maxTableBytes: 4096,
    steps: [
      { input: '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff', fields: GET_HTTP, table: [[':authority', 'www.example.com']], tableBytes: 57 },
      { input: '8286 84be 5886 a8eb 1064 9cbf', fields: GET_NO_CACHE, table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], tableBytes: 110 },
      {
        input: '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
        fields: GET_CUSTOM,
        table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
        tableBytes: 164,
      },
    ],
  },
  {
    name: 'C.5 responses without Huffman, evicting from a 256-byte table',
    maxTableBytes: 256,
    steps: [
      {
        input: '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        fields: R302,
        table: [['location', LOCATION], ['date', DATE1], ['cache-control', 'private'], [':status', '302']],
        tableBytes: 222,
      },
      { input: '4803 3330 37c1 c0bf', fields: R307, table: [[':status', '307'], ['location', LOCATION], ['date', DATE1], ['cache-control', 'private']], tableBytes: 222 },
      {
        input: '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
        fields: R200,
        table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]],
        tableBytes: 215,
      },
    ],
  },
  {
    name: 'C.6 responses with Huffman, evicting from a 256-byte table',
    maxTableBytes: 256,
    steps: [
      {
        input: '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
        fields: R302,
        table: [['location', LOCATION], ['date', DATE1], ['cache-control', 'private'], [':status', '302']],
        tableBytes: 222,
      },
      { input: '4883 640e ffc1 c0bf', fields: R307, table: [[':status', '307'], ['location', LOCATION], ['date', DATE1], ['cache-control', 'private']], tableBytes: 222 },
      {
        input: '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
        fields: R200,
        table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE2]],
        tableBytes: 215,
      },
    ],
  },
];

describe('HpackDecoder', () => {
  describe('RFC 7541 Appendix C.2 single representations', () => {
    it('decodes a literal with incremental indexing and adds it to the table (C.2.1)', () => {
      const d = new HpackDecoder();
      const r = d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
      assert.deepEqual(fieldsOf(r), [['custom-key', 'custom-header']]);
      assert.equal(d.tableBytes, 55);
      assert.deepEqual(tableOf(d), [['custom-key', 'custom-header']]);
    });

    it('decodes a literal without indexing and leaves the table empty (C.2.2)', () => {
      const d = new HpackDecoder();
      assert.deepEqual(fieldsOf(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))), [[':path', '/sample/path']]);
      assert.equal(d.tableLength, 0);
    });

    it('decodes a never-indexed literal and leaves the table empty (C.2.3)', () => {
      const d = new HpackDecoder();
      assert.deepEqual(fieldsOf(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))), [['password', 'secret']]);
      assert.equal(d.tableLength, 0);
    });

    it('decodes an indexed static field (C.2.4)', () => {
      const d = new HpackDecoder();
      const r = d.decode(hex('82'));
      assert.deepEqual(fieldsOf(r), [[':method', 'GET']]);
      assert.equal(r.ok && r.listBytes, 7 + 3 + 32);
    });
  });

  for (const seq of SEQUENCES) {
    it(`decodes the RFC 7541 ${seq.name} with the table carried across blocks`, () => {
      const d = new HpackDecoder({ maxTableBytes: seq.maxTableBytes });
      for (const step of seq.steps) {
        assert.deepEqual(fieldsOf(d.decode(hex(step.input))), step.fields);
        assert.equal(d.tableBytes, step.tableBytes);
        assert.deepEqual(tableOf(d), step.table);
      }
    });
  }

  it('applies dynamic table size updates at the start of a block, evicting down to the new size', () => {
    const d = new HpackDecoder();
    d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')); // :authority www.example.com, 57 bytes
    d.decode(hex('5808 6e6f 2d63 6163 6865')); // cache-control no-cache, 53 bytes
    assert.equal(d.tableBytes, 110);
    // 0 then 64 (RFC 7541 §4.2: the smallest, then the final size), then a field
    assert.deepEqual(fieldsOf(d.decode(hex('20 3f21 82'))), [[':method', 'GET']]);
    assert.equal(d.tableLength, 0);
    d.decode(hex('5808 6e6f 2d63 6163 6865')); // 53 bytes fit in 64
    d.decode(hex('4108 7878 2e65 7861 6d70')); // :authority xx.examp, 50 bytes: evicts cache-control
    assert.deepEqual(tableOf(d), [[':authority', 'xx.examp']]);
    assert.equal(d.tableBytes, 50);
  });

  it('empties the table when an added entry is larger than the whole table (RFC 7541 §4.4)', () => {
    const d = new HpackDecoder({ maxTableBytes: 60 });
    d.decode(hex('5808 6e6f 2d63 6163 6865')); // 53 bytes
    assert.equal(d.tableLength, 1);
    const big = d.decode(Buffer.concat([hex('41 1e'), Buffer.from('a'.repeat(30))])); // 10 + 30 + 32 = 72 > 60
    assert.ok(big.ok);
    assert.equal(d.tableLength, 0);
    assert.equal(d.tableBytes, 0);
  });

  it('keeps the dynamic table as strings of octets (latin1), not UTF-8', () => {
    const d = new HpackDecoder();
    assert.deepEqual(fieldsOf(d.decode(hex('00 01 78 02 c3a9'))), [['x', '\u00c3\u00a9']]);
  });

  it('decodes an integer with the largest allowed value and five continuation bytes', () => {
    const d = new HpackDecoder({ maxTableBytes: 0x7fffffff });
    // size update: 31 + 0x7fffffe0 = 2^31 - 1
    assert.deepEqual(fieldsOf(d.decode(hex('3f e0ff ffff 07'))), []);
    // 1337 with a 5-bit prefix (RFC 7541 C.1.2) padded with a zero-valued continuation byte is still 5 bytes
    assert.deepEqual(fieldsOf(d.decode(hex('3f 9a8a 8080 00'))), []);
  });

  describe('compression errors', () => {
    const cases: [string, string, RegExp][] = [
      ['an indexed field with index 0', '80', /index 0/],
      ['an indexed field past the static table with an empty dynamic table', 'be', /index 62 is past the tables/],
      ['a literal whose name index is past the tables', '7f 00 01 61', /past the tables/],
      ['an integer cut off in its continuation bytes', 'ff 80', /ends inside an integer/],
      ['a string length cut off', '00', /ends before a string literal/],
      ['an integer beyond 2^31 - 1', 'ff ffff ffff 0f', /exceeds/],
      ['an integer with more than five continuation bytes', 'ff 8080 8080 8000', /more than 5 continuation bytes/],
      ['a string whose length runs past the end', '00 05 6162', /runs past the end/],
      ['a value missing after a literal name', '00 01 61', /ends before a string literal/],
      ['Huffman padding longer than 7 bits', '00 01 61 82 1fff', /Huffman/],
      ['Huffman padding that is not all 1s', '00 01 61 81 18', /Huffman/],
      ['an EOS symbol in Huffman data', '00 01 61 84 ffff ffff', /Huffman/],
      ['a dynamic table size update above the advertised maximum', '3fe2 1f', /exceeds the advertised 4096/],
      ['a dynamic table size update after a header field', '82 20', /after a header field/],
    ];
    for (const [what, block, reason] of cases) {
      it(`returns a compression error for ${what}`, () => {
        assert.match(compressionReason(new HpackDecoder(), hex(block)), reason);
      });
    }

    it('returns a compression error for an index just past a non-empty dynamic table', () => {
      const d = new HpackDecoder();
      d.decode(hex('5808 6e6f 2d63 6163 6865'));
      assert.deepEqual(fieldsOf(d.decode(hex('be'))), [['cache-control', 'no-cache']]);
      assert.match(compressionReason(d, hex('bf')), /index 63 is past the tables \(61 static \+ 1 dynamic\)/);
    });

    it('returns a compression error for a size update above a smaller advertised maximum', () => {
      assert.match(compressionReason(new HpackDecoder({ maxTableBytes: 100 }), hex('3f 46')), /update to 101 exceeds the advertised 100/);
      assert.ok(new HpackDecoder({ maxTableBytes: 100 }).decode(hex('3f 45')).ok);
    });
  });

  describe('header list size limit', () => {
    it('returns header_list_too_large past the limit and still decodes the next block with the table in sync', () => {
      const d = new HpackDecoder({ maxHeaderListBytes: 100 });
      // :method GET (42), then two incrementally indexed fields of 53 and 57 bytes: 152 > 100
      const r = d.decode(hex('82 5808 6e6f 2d63 6163 6865 41 0f 7777 772e 6578 616d 706c 652e 636f 6d'));
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.error === 'header_list_too_large');
      assert.match(!r.ok ? r.reason : '', /152 bytes exceeds the limit of 100/);
      // both entries were added even though the list was over the limit
      assert.deepEqual(fieldsOf(d.decode(hex('be'))), [[':authority', 'www.example.com']]);
      assert.deepEqual(fieldsOf(d.decode(hex('bf'))), [['cache-control', 'no-cache']]);
    });

    it('accepts a header list of exactly the limit', () => {
      const r = new HpackDecoder({ maxHeaderListBytes: 84 }).decode(hex('82 82'));
      assert.deepEqual(fieldsOf(r), [[':method', 'GET'], [':method', 'GET']]);
    });

    it('prefers a compression error over header_list_too_large', () => {
      const r = new HpackDecoder({ maxHeaderListBytes: 10 }).decode(hex('82 80'));
      assert.ok(!r.ok && r.error === 'compression');
    });
  });

  it('never throws on 2,000 random blocks, returning a result every time', () => {
    const random = seededRandom(20261123);
    // A prefix of valid representations makes the random tail reach deeper into the decoder.
    const prefixes = [hex(''), hex('40 01 61 01 62'), hex('3f e1 1f'), hex('00 81'), hex('82')];
    let ok = 0;
    for (let n = 0; n < 2000; n++) {
      const tail = Buffer.alloc(randomIndex(random, 64));
      for (let i = 0; i < tail.length; i++) tail[i] = randomIndex(random, 256);
      const block = Buffer.concat([prefixes[randomIndex(random, prefixes.length)]!, tail]);
      const d = new HpackDecoder({ maxHeaderListBytes: randomIndex(random, 2) === 0 ? 200 : Infinity });
      const r = d.decode(block);
      assert.equal(typeof r.ok, 'boolean');
      if (r.ok) ok++;
      else assert.ok(r.reason.length > 0);
    }
    assert.ok(ok > 0, 'some random blocks are valid');
  });
});
