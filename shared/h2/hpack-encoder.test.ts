import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { seededRandom, randomIndex } from '../seeded-random.js';
import { HpackDecoder, type HeaderField } from './hpack-decoder.js';
import { encodeHeaderBlock } from './hpack-encoder.js';

const CONNECT: HeaderField[] = [
  [':method', 'CONNECT'],
  [':authority', '10.0.0.1:8080'],
  ['forwarded', 'for="10.0.0.9"'],
  ['baggage', 'k8s.namespace.name=default,k8s.deployment.name=client,service.name=client,service.version=v1'],
  ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
];

function randomLists(count: number): HeaderField[][] {
  const random = seededRandom(9113);
  const names = [':status', ':path', 'content-type', 'accept-encoding', 'x-custom', 'baggage', ''];
  const lists: HeaderField[][] = [];
  for (let n = 0; n < count; n++) {
    const list: HeaderField[] = [];
    for (let i = randomIndex(random, 10); i > 0; i--) {
      let value = '';
      for (let j = randomIndex(random, randomIndex(random, 8) === 0 ? 400 : 30); j > 0; j--) value += String.fromCharCode(randomIndex(random, 256));
      list.push([names[randomIndex(random, names.length)]!, randomIndex(random, 5) === 0 ? '200' : value]);
    }
    lists.push(list);
  }
  return lists;
}

const LISTS: HeaderField[][] = [
  CONNECT,
  [[':status', '200']],
  [[':status', '503'], ['content-length', '0'], ['x-empty', ''], ['x-latin1', '\u00e9\u00ff\u0000\u0080']],
  [['x-long', 'z'.repeat(70_000)]],
  [],
  ...randomLists(40),
];

// Decodes each block (a JSON list of hex strings on stdin) with a fresh hpack.Decoder; one JSON list per block.
const PYTHON_DECODER = `
import sys, json
try:
    from hpack import Decoder
except ImportError:
    print(json.dumps(None)); sys.exit(0)
out = []
for line in json.load(sys.stdin):
    d = Decoder(max_header_list_size=1 << 24)
    out.append([[n.decode('latin-1'), v.decode('latin-1')] for n, v in d.decode(bytes.fromhex(line), raw=True)])
print(json.dumps(out))
`;

function pythonDecode(blocks: Buffer[]): HeaderField[][] | string {
  const r = spawnSync('/usr/bin/python3', ['-c', PYTHON_DECODER], {
    input: JSON.stringify(blocks.map((b) => b.toString('hex'))),
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 << 20,
  });
  if (r.error !== undefined) return `/usr/bin/python3 is not runnable (${r.error.message})`;
  if (r.status !== 0) return `/usr/bin/python3 failed: ${r.stderr}`;
  return (JSON.parse(r.stdout) as HeaderField[][] | null) ?? 'the python3 hpack package is not installed (apt install python3-hpack)';
}

describe('encodeHeaderBlock', () => {
  it('encodes an exact static-table match as a one-byte indexed field', () => {
    assert.deepEqual(encodeHeaderBlock([[':method', 'GET'], [':status', '200'], ['accept-encoding', 'gzip, deflate']]), Buffer.from([0x82, 0x88, 0x90]));
  });

  it('encodes a static name with another value as a literal without indexing with an indexed name', () => {
    // :status is index 8 (first of its name); 0000 1000, then "503" plain (Huffman is not shorter)
    assert.deepEqual(encodeHeaderBlock([[':status', '503']]), Buffer.from('0803353033', 'hex'));
    // :authority (index 1) with a Huffman-coded value: RFC 7541 C.4.1's www.example.com
    assert.deepEqual(encodeHeaderBlock([[':authority', 'www.example.com']]), Buffer.from('018cf1e3c2e5f23a6ba0ab90f4ff', 'hex'));
  });

  it('encodes an unknown name as a literal without indexing with a literal name', () => {
    // 0x00, then "custom-key" Huffman-coded (RFC 7541 C.4.3) and "custom-value" Huffman-coded
    assert.deepEqual(encodeHeaderBlock([['custom-key', 'custom-value']]), Buffer.from('008825a849e95ba97d7f8925a849e95bb8e8b4bf', 'hex'));
  });

  it('writes plain strings when Huffman coding is turned off', () => {
    // 0x00, then "custom-key" and "custom-value" as plain octets (RFC 7541 C.3.3's literals)
    const block = encodeHeaderBlock([['custom-key', 'custom-value']], { huffman: false });
    assert.deepEqual(block, Buffer.from('000a637573746f6d2d6b65790c637573746f6d2d76616c7565', 'hex'));
    const r = new HpackDecoder().decode(encodeHeaderBlock(CONNECT, { huffman: false }));
    assert.deepEqual(r.ok && r.fields, CONNECT);
  });

  it('uses index 16 and beyond with a multi-byte integer where the 4-bit prefix overflows', () => {
    // cookie is static index 32: 0000 1111 then 32 - 15 = 17
    assert.deepEqual(encodeHeaderBlock([['cookie', '1']]).subarray(0, 2), Buffer.from([0x0f, 0x11]));
  });

  it('never touches the dynamic table: decoding leaves the table empty', () => {
    const d = new HpackDecoder();
    for (const list of LISTS) {
      const r = d.decode(encodeHeaderBlock(list));
      assert.ok(r.ok);
      assert.deepEqual(r.fields, list);
    }
    assert.equal(d.tableLength, 0);
  });

  it('returns an empty block for an empty list', () => {
    assert.equal(encodeHeaderBlock([]).length, 0);
  });

  const blocks = [...LISTS.map((list) => encodeHeaderBlock(list)), ...LISTS.map((list) => encodeHeaderBlock(list, { huffman: false }))];
  const decoded = pythonDecode(blocks);
  it('encodes blocks, with and without Huffman, that the Python hpack decoder reads back to the same fields', { skip: typeof decoded === 'string' ? decoded : false }, () => {
    assert.ok(typeof decoded !== 'string');
    assert.equal(decoded.length, 2 * LISTS.length);
    [...LISTS, ...LISTS].forEach((list, i) => assert.deepEqual(decoded[i], list, `list ${i}`));
  });
});
