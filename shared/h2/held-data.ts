// HeldData: the bytes a paused H2Stream holds for its consumer, in arrival order. DATA pieces
// arrive as views of the socket's chunks; holding each view as is would let a peer sending tiny
// DATA frames into a paused stream cost one Buffer object (~100 bytes) per byte held, plus the
// whole socket chunk each view pins. Small pieces are therefore copied together into a growing
// tail buffer; pieces of `coalesceBelowBytes` or more are kept as they are (no copy).

const coalesceBelowBytes = 4096;
const firstTailBytes = 1024;
const maxTailBytes = 16 * 1024;

export class HeldData {
  /** Bytes held (what the session counts against its limit). */
  bytes = 0;
  private readonly chunks: Buffer[] = [];
  private tail: Buffer | undefined = undefined;
  private tailUsed = 0;
  private nextTailBytes = firstTailBytes;

  push(piece: Buffer): void {
    this.bytes += piece.length;
    if (piece.length >= coalesceBelowBytes) {
      this.sealTail();
      this.nextTailBytes = firstTailBytes;
      this.chunks.push(piece);
      return;
    }
    if (this.tail !== undefined && this.tail.length - this.tailUsed < piece.length) {
      this.sealTail();
      this.nextTailBytes = Math.min(maxTailBytes, this.nextTailBytes * 2);
    }
    if (this.tail === undefined) {
      this.tail = Buffer.allocUnsafe(Math.max(this.nextTailBytes, piece.length));
      this.tailUsed = 0;
    }
    piece.copy(this.tail, this.tailUsed);
    this.tailUsed += piece.length;
  }

  /** Everything held, in order; the HeldData is spent afterwards. */
  take(): Buffer[] {
    this.sealTail();
    return this.chunks;
  }

  private sealTail(): void {
    if (this.tail === undefined) return;
    if (this.tailUsed > 0) this.chunks.push(this.tail.subarray(0, this.tailUsed));
    this.tail = undefined;
    this.tailUsed = 0;
  }
}
