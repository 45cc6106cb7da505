// The HPACK dynamic table (RFC 7541 §2.3.2, §4): a FIFO of header fields, newest first for
// indexing, bounded by a size in bytes (entry size = name + value + 32, §4.1) with eviction.
// Stored as a ring of shared tuples so that an indexed field costs no allocation.

import type { HeaderField } from './hpack-decoder.js';

/** RFC 7541 §4.1: the size of an entry is its name's and value's lengths plus 32. */
export const HPACK_ENTRY_OVERHEAD = 32;

export class HpackDynamicTable {
  private ring: (HeaderField | undefined)[] = new Array<HeaderField | undefined>(16);
  private mask = 15;
  private first = 0; // slot of the oldest entry
  private count = 0;
  private bytes = 0;
  private maxBytes: number;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** The number of entries. */
  get length(): number {
    return this.count;
  }

  /** The table's size in RFC 7541 §4.1 bytes. */
  get sizeBytes(): number {
    return this.bytes;
  }

  /** The current maximum size (last set by a dynamic table size update). */
  get maxSizeBytes(): number {
    return this.maxBytes;
  }

  /** The entry at 0-based position i, 0 being the newest (HPACK index 62); undefined past the end. */
  get(i: number): HeaderField | undefined {
    if (i >= this.count) return undefined;
    return this.ring[(this.first + this.count - 1 - i) & this.mask];
  }

  /** Adds a field as the newest entry, evicting the oldest as needed (RFC 7541 §4.4). */
  add(field: HeaderField): void {
    const size = field[0].length + field[1].length + HPACK_ENTRY_OVERHEAD;
    // §4.4: an entry larger than the maximum size empties the table and is not added.
    if (size > this.maxBytes) {
      this.clear();
      return;
    }
    this.evictTo(this.maxBytes - size);
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.first + this.count) & this.mask] = field;
    this.count++;
    this.bytes += size;
  }

  /** Applies a dynamic table size update (RFC 7541 §4.3, §6.3), evicting as needed. */
  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evictTo(maxBytes);
  }

  private evictTo(limit: number): void {
    while (this.bytes > limit && this.count > 0) {
      const old = this.ring[this.first]!;
      this.ring[this.first] = undefined;
      this.first = (this.first + 1) & this.mask;
      this.count--;
      this.bytes -= old[0].length + old[1].length + HPACK_ENTRY_OVERHEAD;
    }
  }

  private clear(): void {
    this.ring.fill(undefined);
    this.first = 0;
    this.count = 0;
    this.bytes = 0;
  }

  private grow(): void {
    const next = new Array<HeaderField | undefined>(this.ring.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.ring[(this.first + i) & this.mask];
    this.ring = next;
    this.mask = next.length - 1;
    this.first = 0;
  }
}
