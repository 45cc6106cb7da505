// Interop: header blocks encoded by an independent HPACK implementation (the Python `hpack`
// package, as shipped by Debian) decode to the same fields and the same dynamic table size here.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { seededRandom, randomIndex, type Random } from '../seeded-random.js';
import { HpackDecoder, type HeaderField } from './hpack-decoder.js';

type Step = { readonly fields: [string, string, boolean][]; readonly huffman: boolean; readonly tableSize?: number };
type Encoded = { readonly hex: string; readonly tableBytes: number };

// Strings travel as JSON with one code point per octet (latin1) and are sent to hpack as bytes.
const PYTHON_ENCODER = `
import sys, json
try:
    from hpack import Encoder
except ImportError:
    print(json.dumps(None)); sys.exit(0)
out = []
for seq in json.load(sys.stdin):
    e = Encoder()
    blocks = []
    for step in seq:
        if step.get('tableSize') is not None:
            e.header_table_size = step['tableSize']
        hs = [(n.encode('latin-1'), v.encode('latin-1'), s) for n, v, s in step['fields']]
        data = e.encode(hs, huffman=step['huffman'])
        blocks.append({'hex': data.hex(), 'tableBytes': e.header_table._current_size})
    out.append(blocks)
print(json.dumps(out))
`;

const NAMES = [':method', ':path', ':authority', ':status', 'content-type', 'cookie', 'x-request-id', 'baggage', 'traceparent', 'forwarded', 'authorization', 'x-b3-traceid'];

function randomString(random: Random, maxLength: number): string {
  let s = '';
  const len = randomIndex(random, maxLength + 1);
  for (let i = 0; i < len; i++) {
    // mostly printable ASCII, sometimes any octet
    s += String.fromCharCode(randomIndex(random, 8) === 0 ? randomIndex(random, 256) : 0x20 + randomIndex(random, 95));
  }
  return s;
}

function randomSequence(random: Random, blocks: number): Step[] {
  const steps: Step[] = [];
  for (let b = 0; b < blocks; b++) {
    const fields: [string, string, boolean][] = [];
    const count = 1 + randomIndex(random, 12);
    for (let i = 0; i < count; i++) {
      const name = randomIndex(random, 4) === 0 ? `x-${randomString(random, 12).toLowerCase()}` : NAMES[randomIndex(random, NAMES.length)]!;
      fields.push([name, randomString(random, randomIndex(random, 10) === 0 ? 1500 : 40), randomIndex(random, 6) === 0]);
    }
    const resize = randomIndex(random, 5) === 0 ? [0, 64, 256, 1024, 4096][randomIndex(random, 5)] : undefined;
    steps.push({ fields, huffman: randomIndex(random, 2) === 0, ...(resize === undefined ? {} : { tableSize: resize }) });
  }
  return steps;
}

const CONNECT: [string, string, boolean][] = [
  [':method', 'CONNECT', false],
  [':authority', '10.0.0.1:8080', false],
  ['forwarded', 'for="10.0.0.9"', false],
  ['baggage', 'k8s.namespace.name=default,k8s.deployment.name=client,service.name=client,service.version=v1', false],
  ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
];

const SEQUENCES: { readonly name: string; readonly steps: Step[] }[] = [
  { name: 'repeated CONNECT requests with Huffman and indexing', steps: [CONNECT, CONNECT, CONNECT].map((fields) => ({ fields, huffman: true })) },
  { name: 'repeated CONNECT requests without Huffman', steps: [CONNECT, CONNECT].map((fields) => ({ fields, huffman: false })) },
  {
    name: 'sensitive fields as never-indexed literals',
    steps: [
      { fields: [['authorization', 'Bearer abc.def', true], ['cookie', 'session=1', true], ['x-plain', 'yes', false]], huffman: true },
      { fields: [['authorization', 'Bearer abc.def', true], ['x-plain', 'yes', false]], huffman: false },
    ],
  },
  {
    name: 'table size changes between blocks, down to 0 and back',
    steps: [
      { fields: CONNECT, huffman: true },
      { fields: CONNECT, huffman: true, tableSize: 256 },
      { fields: CONNECT, huffman: true, tableSize: 0 },
      { fields: CONNECT, huffman: false, tableSize: 4096 },
      { fields: CONNECT, huffman: true },
    ],
  },
  {
    name: 'large values that evict earlier entries, and latin1 octets',
    steps: [
      { fields: [['x-big', 'a'.repeat(3000), false], ['x-latin1', '\u00e9t\u00e9 \u00ff\u0080', false]], huffman: true },
      { fields: [['x-big2', 'b'.repeat(2000), false], ['x-latin1', '\u00e9t\u00e9 \u00ff\u0080', false]], huffman: false },
      { fields: [['x-big', 'a'.repeat(3000), false]], huffman: true },
    ],
  },
  ...[1, 2, 3, 4, 5, 6].map((seed) => ({ name: `random header lists (seed ${seed})`, steps: randomSequence(seededRandom(seed), 12) })),
];

const TOO_BIG: Step[] = [{ fields: CONNECT, huffman: true, tableSize: 8192 }];

function runPython(): { encoded: Encoded[][] } | { skip: string } {
  const r = spawnSync('/usr/bin/python3', ['-c', PYTHON_ENCODER], {
    input: JSON.stringify([...SEQUENCES.map((s) => s.steps), TOO_BIG]),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.error !== undefined) return { skip: `/usr/bin/python3 is not runnable (${r.error.message})` };
  if (r.status !== 0) return { skip: `/usr/bin/python3 failed: ${r.stderr}` };
  const parsed = JSON.parse(r.stdout) as Encoded[][] | null;
  if (parsed === null) return { skip: 'the python3 hpack package is not installed (apt install python3-hpack)' };
  return { encoded: parsed };
}

const python = runPython();
const skip = 'skip' in python ? python.skip : false;

describe('HpackDecoder interop with the Python hpack encoder', () => {
  SEQUENCES.forEach((seq, i) => {
    it(`decodes ${seq.name} to the same fields and table size`, { skip }, () => {
      assert.ok('encoded' in python);
      const blocks = python.encoded[i]!;
      const d = new HpackDecoder();
      seq.steps.forEach((step, b) => {
        const r = d.decode(Buffer.from(blocks[b]!.hex, 'hex'));
        assert.ok(r.ok, `block ${b}: ${r.ok ? '' : r.reason}`);
        const expected: HeaderField[] = step.fields.map(([n, v]) => [n, v]);
        assert.deepEqual(r.fields, expected, `block ${b}`);
        assert.equal(d.tableBytes, blocks[b]!.tableBytes, `table size after block ${b}`);
      });
    });
  });

  it('returns a compression error for a table size update above the 4096 bytes we advertise', { skip }, () => {
    assert.ok('encoded' in python);
    const block = python.encoded[SEQUENCES.length]![0]!;
    assert.match(block.hex, /^3fe13f/); // 8192 with a 5-bit prefix: 31 + 8161
    const r = new HpackDecoder().decode(Buffer.from(block.hex, 'hex'));
    assert.ok(!r.ok && r.error === 'compression');
  });
});
