// HPACK Huffman code (RFC 7541 §5.2, Appendix B): the canonical code table, a strict decoder that
// walks the code tree a byte at a time through a table built once at module load, and an
// encoder for strings that get shorter when Huffman-coded.

// Appendix B, symbol 0..255 then EOS (256): the code, right-aligned, and its length in bits.
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
];

export const HUFFMAN_CODE_BITS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const CODES = Uint32Array.from(HUFFMAN_CODES);
const BITS = Uint8Array.from(HUFFMAN_CODE_BITS);

// The decoder walks the code tree a byte at a time: one table entry per (tree node, input byte),
// packed into a Uint32: bits 0-7 the node reached, 8-15 and 16-23 the symbols completed on the
// way (at most two: codes are >= 5 bits), 24-25 how many, then two flags.
const ACCEPT = 1 << 26; // ending here is valid: the bits since the last symbol are <= 7 ones (EOS's prefix)
const FAIL = 1 << 27; // the byte completed EOS, which RFC 7541 §5.2 says MUST be a decoding error
const NIBBLE_EMIT = 1 << 16; // in the build-time nibble table only: a symbol was completed

const DECODE_TABLE = buildDecodeTable();

/** Builds the code tree's internal nodes (root 0); a child > 0 is a node, -(sym + 1) a leaf. */
function buildTree(): { zero: number[]; one: number[]; acceptable: boolean[] } {
  const zero: number[] = [0];
  const one: number[] = [0];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  for (let sym = 0; sym <= EOS; sym++) {
    const code = CODES[sym]!;
    let node = 0;
    for (let bit = BITS[sym]! - 1; bit >= 0; bit--) {
      const b = (code >>> bit) & 1;
      const side = b === 1 ? one : zero;
      if (bit === 0) {
        side[node] = -(sym + 1);
        break;
      }
      let next = side[node]!;
      if (next <= 0) {
        next = zero.length;
        zero.push(0);
        one.push(0);
        depth.push(depth[node]! + 1);
        allOnes.push(allOnes[node]! && b === 1);
        side[node] = next;
      }
      node = next;
    }
  }
  // §5.2: a string may end inside a code only on a prefix of EOS (all 1s) of at most 7 bits.
  const acceptable = allOnes.map((ones, node) => ones && depth[node]! <= 7);
  return { zero, one, acceptable };
}

/** Per (node, nibble): the node reached | the symbol completed << 8 | NIBBLE_EMIT | ACCEPT, or FAIL. */
function buildNibbleTable(): Uint32Array {
  const { zero, one, acceptable } = buildTree();
  const table = new Uint32Array(zero.length * 16);
  for (let state = 0; state < zero.length; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = ((nibble >>> bit) & 1) === 1 ? one[node]! : zero[node]!;
        if (child > 0) {
          node = child;
          continue;
        }
        const sym = -child - 1;
        entry = sym === EOS ? FAIL : NIBBLE_EMIT | (sym << 8); // one symbol at most: codes are >= 5 bits
        node = 0;
        if (sym === EOS) break;
      }
      table[state * 16 + nibble] = entry === FAIL ? FAIL : entry | node | (acceptable[node]! ? ACCEPT : 0);
    }
  }
  return table;
}

/** The byte table from two nibble steps (much faster to build than walking 8 bits per entry). */
function buildDecodeTable(): Uint32Array {
  const nibbles = buildNibbleTable();
  const states = nibbles.length / 16; // 256 for a complete prefix code of 257 symbols
  const table = new Uint32Array(states * 256).fill(FAIL);
  for (let state = 0; state < states; state++) {
    for (let hi = 0; hi < 16; hi++) {
      const high = nibbles[state * 16 + hi]!;
      if (high === FAIL) continue;
      const highCount = (high & NIBBLE_EMIT) !== 0 ? 1 : 0;
      const highSymbol = highCount === 1 ? (high >>> 8) & 0xff : 0;
      const next = (high & 0xff) * 16;
      const at = state * 256 + hi * 16;
      for (let lo = 0; lo < 16; lo++) {
        const low = nibbles[next + lo]!;
        if (low === FAIL) continue;
        const lowCount = (low & NIBBLE_EMIT) !== 0 ? 1 : 0;
        const symbols = highSymbol | (lowCount === 1 ? ((low >>> 8) & 0xff) << (8 * highCount) : 0);
        table[at + lo] = (low & 0xff) | (symbols << 8) | ((highCount + lowCount) << 24) | (low & ACCEPT);
      }
    }
  }
  return table;
}

let scratch = Buffer.allocUnsafe(1024);

/**
 * Decodes Huffman-coded bytes buf[start, end) to a latin1 string, or null when the data is invalid
 * (RFC 7541 §5.2): padding longer than 7 bits, padding that is not all 1s, or an encoded EOS.
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string | null {
  if (start < 0 || end > buf.length || start > end) return null;
  // Every code is at least 5 bits long, so the output is at most 8/5 of the input; +1 because
  // the loop writes a second symbol slot unconditionally.
  const maxOut = Math.ceil(((end - start) * 8) / 5) + 1;
  if (maxOut > scratch.length) scratch = Buffer.allocUnsafe(Math.max(maxOut, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  let entry = ACCEPT;
  for (let i = start; i < end; i++) {
    entry = DECODE_TABLE[(state << 8) | buf[i]!]!;
    if ((entry & FAIL) !== 0) return null;
    // Branch-free: store both symbol slots (Uint8Array keeps the low byte), advance by the count.
    out[n] = entry >>> 8;
    out[n + 1] = entry >>> 16;
    n += (entry >>> 24) & 3;
    state = entry & 0xff;
  }
  if ((entry & ACCEPT) === 0) return null;
  return out.toString('latin1', 0, n);
}

/** The length in bytes of `s` Huffman-coded; each UTF-16 code unit counts as its low byte (latin1). */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += BITS[s.charCodeAt(i) & 0xff]!;
  return Math.ceil(bits / 8);
}

/**
 * Writes `s` Huffman-coded into `out` at `offset` (which must have huffmanEncodedLength(s) bytes
 * free), padding the last byte with the most significant bits of EOS (1s); returns the new offset.
 */
export function huffmanEncode(s: string, out: Uint8Array, offset: number): number {
  let o = offset;
  // `acc` holds `bits` (< 8) pending bits between symbols; a code is pushed in pieces of at most
  // 16 bits so that `acc` never needs more than 24 bits.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = BITS[sym]!;
    const code = CODES[sym]!;
    if (len > 16) {
      acc = (acc << (len - 16)) | (code >>> 16);
      bits += len - 16;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = acc >>> bits;
        acc &= (1 << bits) - 1;
      }
      acc = (acc << 16) | (code & 0xffff);
      bits += 16;
    } else {
      acc = (acc << len) | code;
      bits += len;
    }
    while (bits >= 8) {
      bits -= 8;
      out[o++] = acc >>> bits;
      acc &= (1 << bits) - 1;
    }
  }
  // §5.2: pad with the most significant bits of EOS, which are all 1s.
  if (bits > 0) out[o++] = (acc << (8 - bits)) | (0xff >>> bits);
  return o;
}
