// Stateless HPACK header block encoder (RFC 7541): static-table indexed fields and literals
// without indexing only, so it never adds to the peer's dynamic table and never needs a
// dynamic table size update. Strings are Huffman-coded when that is shorter.

import type { HeaderField } from './hpack-decoder.js';
import { huffmanEncode, huffmanEncodedLength } from './hpack-huffman.js';
import { HPACK_STATIC_BY_NAME } from './hpack-static-table.js';

// Worst case per field beyond its strings: the representation's integer (<= 6 bytes for
// lengths below 2^31) and two string length integers.
const FIELD_OVERHEAD_BYTES = 18;

export type HpackEncodeOptions = {
  /**
   * Huffman-code strings when that is shorter (default true). Plain strings make a larger block
   * that is cheaper for the peer to decode (no Huffman walk).
   */
  readonly huffman?: boolean;
};

/**
 * Encodes a header list (lowercase names, latin1 strings) as one header block: an exact static
 * match as an indexed field (§6.1), a static name as a literal without indexing with an indexed
 * name (§6.2.2), anything else as a literal without indexing with a literal name.
 */
export function encodeHeaderBlock(fields: readonly HeaderField[], opts: HpackEncodeOptions = {}): Buffer {
  const huffman = opts.huffman ?? true;
  let bound = 0;
  for (const [name, value] of fields) bound += name.length + value.length + FIELD_OVERHEAD_BYTES;
  const out = Buffer.allocUnsafe(bound);
  let o = 0;
  for (const [name, value] of fields) {
    const match = HPACK_STATIC_BY_NAME.get(name);
    if (match !== undefined) {
      const exact = match.valueIndex.get(value);
      if (exact !== undefined) {
        o = writeInteger(out, o, 0x80, 7, exact);
        continue;
      }
      o = writeInteger(out, o, 0x00, 4, match.nameIndex);
    } else {
      out[o++] = 0x00; // literal without indexing, new name
      o = writeString(out, o, name, huffman);
    }
    o = writeString(out, o, value, huffman);
  }
  return out.subarray(0, o);
}

/** §5.1: `value` with an N-bit prefix, OR-ed into `firstByteFlags`. */
function writeInteger(out: Buffer, offset: number, firstByteFlags: number, prefixBits: number, value: number): number {
  let o = offset;
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out[o++] = firstByteFlags | value;
    return o;
  }
  out[o++] = firstByteFlags | max;
  let rest = value - max;
  while (rest >= 128) {
    out[o++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  out[o++] = rest;
  return o;
}

/** §5.2: a string literal, Huffman-coded (H bit set) when allowed and strictly shorter. */
function writeString(out: Buffer, offset: number, s: string, huffman: boolean): number {
  const huffmanLength = huffman ? huffmanEncodedLength(s) : s.length;
  if (huffmanLength < s.length) {
    const o = writeInteger(out, offset, 0x80, 7, huffmanLength);
    return huffmanEncode(s, out, o);
  }
  const o = writeInteger(out, offset, 0x00, 7, s.length);
  return o + out.write(s, o, 'latin1');
}
