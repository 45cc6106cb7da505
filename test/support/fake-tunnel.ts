// FakeTunnel: an HBONE tunnel stream as the waypoint's HTTP/1.1 code sees it, for unit tests: the
// peer's bytes are pushed in, what the code writes is kept; close() is the Http2Stream's.
import { Duplex } from 'node:stream';

export class FakeTunnel extends Duplex {
  readonly written: Buffer[] = [];
  constructor() {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.written.push(c);
    cb();
  }
  close(): void {
    this.destroy();
  }
  /** Everything written so far, as latin1 text. */
  text(): string {
    return Buffer.concat(this.written).toString('latin1');
  }
}
