// HPACK header block decoder (RFC 7541): indexed and literal field representations, prefixed
// integers, plain and Huffman string literals, and the dynamic table with its size updates.
// Strict: any malformed block is a compression error value (RFC 9113 §4.3), never a throw.

import { HpackDynamicTable, HPACK_ENTRY_OVERHEAD } from './hpack-dynamic-table.js';
import { huffmanDecode } from './hpack-huffman.js';
import { HPACK_STATIC_TABLE, HPACK_STATIC_TABLE_LENGTH } from './hpack-static-table.js';

/** A decoded header field, strings as latin1 (one char per octet). */
export type HeaderField = readonly [name: string, value: string];

export type HpackDecodeResult =
  | { readonly ok: true; readonly fields: HeaderField[]; readonly listBytes: number }
  | { readonly ok: false; readonly error: 'compression' | 'header_list_too_large'; readonly reason: string };

export type HpackDecoderOptions = {
  /** The SETTINGS_HEADER_TABLE_SIZE we advertise: the most a size update may set (default 4096). */
  readonly maxTableBytes?: number;
  /** The SETTINGS_MAX_HEADER_LIST_SIZE we enforce, in RFC 9113 §6.5.2 bytes (default Infinity). */
  readonly maxHeaderListBytes?: number;
};

// RFC 7541 §5.1 leaves the integer range to the implementation; 2^31 - 1 covers every length
// and index a sane peer sends, and five continuation bytes are enough to carry it.
const MAX_INTEGER = 0x7fffffff;
const MAX_CONTINUATION_BYTES = 5;
const EMPTY = Buffer.alloc(0);

export class HpackDecoder {
  private readonly maxTableBytes: number;
  private readonly maxHeaderListBytes: number;
  private readonly table: HpackDynamicTable;
  private buf: Buffer = EMPTY;
  private pos = 0;
  private failure = '';

  constructor(opts: HpackDecoderOptions = {}) {
    this.maxTableBytes = opts.maxTableBytes ?? 4096;
    this.maxHeaderListBytes = opts.maxHeaderListBytes ?? Infinity;
    this.table = new HpackDynamicTable(this.maxTableBytes);
  }

  /** The dynamic table's current size in RFC 7541 §4.1 bytes. */
  get tableBytes(): number {
    return this.table.sizeBytes;
  }

  /** The number of entries in the dynamic table. */
  get tableLength(): number {
    return this.table.length;
  }

  /** Decodes one complete header block (a HEADERS frame's fragment plus its CONTINUATIONs). */
  decode(block: Buffer): HpackDecodeResult {
    this.buf = block;
    this.pos = 0;
    try {
      return this.decodeBlock(block);
    } finally {
      this.buf = EMPTY; // do not keep the caller's block alive
    }
  }

  private decodeBlock(block: Buffer): HpackDecodeResult {
    const end = block.length;
    const fields: HeaderField[] = [];
    let listBytes = 0;
    let sawField = false;
    while (this.pos < end) {
      const b = block[this.pos]!;
      let field: HeaderField | null;
      if (b >= 0x80) {
        // §6.1 indexed header field: 1xxxxxxx
        const index = this.readInteger(7);
        field = index < 0 ? null : this.lookup(index);
      } else if (b >= 0x40) {
        // §6.2.1 literal with incremental indexing: 01xxxxxx
        field = this.readLiteral(6);
        if (field !== null) this.table.add(field);
      } else if (b >= 0x20) {
        // §6.3 dynamic table size update: 001xxxxx, only at the start of a block (§4.2)
        if (sawField) return compressionError('dynamic table size update after a header field');
        const size = this.readInteger(5);
        if (size < 0) return compressionError(this.failure);
        if (size > this.maxTableBytes) {
          return compressionError(`dynamic table size update to ${size} exceeds the advertised ${this.maxTableBytes}`);
        }
        this.table.setMaxBytes(size);
        continue;
      } else {
        // §6.2.2 literal without indexing 0000xxxx, §6.2.3 never indexed 0001xxxx
        field = this.readLiteral(4);
      }
      if (field === null) return compressionError(this.failure);
      sawField = true;
      // RFC 9113 §6.5.2: past the limit keep decoding (the table must track the peer's encoder)
      // but stop collecting.
      listBytes += field[0].length + field[1].length + HPACK_ENTRY_OVERHEAD;
      if (listBytes <= this.maxHeaderListBytes) fields.push(field);
    }
    if (listBytes > this.maxHeaderListBytes) {
      return {
        ok: false,
        error: 'header_list_too_large',
        reason: `header list of ${listBytes} bytes exceeds the limit of ${this.maxHeaderListBytes}`,
      };
    }
    return { ok: true, fields, listBytes };
  }

  /** §2.3.3: index 1..61 is static, 62.. dynamic (newest first); anything else is an error. */
  private lookup(index: number): HeaderField | null {
    if (index === 0) return this.fail('header field index 0');
    if (index <= HPACK_STATIC_TABLE_LENGTH) return HPACK_STATIC_TABLE[index - 1]!;
    const field = this.table.get(index - HPACK_STATIC_TABLE_LENGTH - 1);
    if (field !== undefined) return field;
    return this.fail(`header field index ${index} is past the tables (${HPACK_STATIC_TABLE_LENGTH} static + ${this.table.length} dynamic)`);
  }

  /** §6.2: a literal field whose name index has `prefixBits` bits; index 0 means a literal name. */
  private readLiteral(prefixBits: number): HeaderField | null {
    const index = this.readInteger(prefixBits);
    if (index < 0) return null;
    let name: string | null;
    if (index === 0) {
      name = this.readString();
    } else {
      const named = this.lookup(index);
      name = named === null ? null : named[0];
    }
    if (name === null) return null;
    const value = this.readString();
    return value === null ? null : [name, value];
  }

  /** §5.2: H bit, 7-bit-prefix length, then the octets, plain or Huffman-coded. */
  private readString(): string | null {
    const buf = this.buf;
    if (this.pos >= buf.length) return this.fail('header block ends before a string literal');
    const huffman = buf[this.pos]! >= 0x80;
    const length = this.readInteger(7);
    if (length < 0) return null;
    const start = this.pos;
    if (length > buf.length - start) {
      return this.fail(`string literal of ${length} bytes runs past the end of the header block`);
    }
    this.pos = start + length;
    if (!huffman) return buf.toString('latin1', start, start + length);
    const s = huffmanDecode(buf, start, start + length);
    return s === null ? this.fail('invalid Huffman-coded string (EOS, or padding not 1s or over 7 bits)') : s;
  }

  /** §5.1: an integer with an N-bit prefix; -1 (with `failure` set) when truncated or too large. */
  private readInteger(prefixBits: number): number {
    const buf = this.buf;
    if (this.pos >= buf.length) {
      this.failure = 'header block ends inside an integer';
      return -1;
    }
    const max = (1 << prefixBits) - 1;
    let value = buf[this.pos++]! & max;
    if (value < max) return value;
    let multiplier = 1;
    for (let k = 0; k < MAX_CONTINUATION_BYTES; k++) {
      if (this.pos >= buf.length) {
        this.failure = 'header block ends inside an integer';
        return -1;
      }
      const b = buf[this.pos++]!;
      value += (b & 0x7f) * multiplier;
      if (value > MAX_INTEGER) {
        this.failure = `integer exceeds ${MAX_INTEGER}`;
        return -1;
      }
      if (b < 0x80) return value;
      multiplier *= 128;
    }
    this.failure = `integer has more than ${MAX_CONTINUATION_BYTES} continuation bytes`;
    return -1;
  }

  private fail(reason: string): null {
    this.failure = reason;
    return null;
  }
}

function compressionError(reason: string): HpackDecodeResult {
  return { ok: false, error: 'compression', reason };
}
