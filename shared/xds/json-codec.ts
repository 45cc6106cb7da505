// A JSON message codec for grpc-js: Ambit's config and CA services carry plain JSON objects in
// gRPC frames (no protobuf toolchain). Decoding is capped and never throws past grpc-js: a bad
// frame fails that call with a clear error.
export const maxMessageBytes = 64 * 1024 * 1024;

// The control plane writes the same snapshot/delta object to every subscriber: serialize it once.
const serialized = new WeakMap<object, Buffer>();

export function serializeJson(value: unknown): Buffer {
  if (typeof value !== 'object' || value === null) return Buffer.from(JSON.stringify(value), 'utf8');
  let buf = serialized.get(value);
  if (!buf) {
    buf = Buffer.from(JSON.stringify(value), 'utf8');
    serialized.set(value, buf);
  }
  return buf;
}

export function deserializeJson<T>(buf: Buffer): T {
  if (buf.length > maxMessageBytes) throw new Error(`message of ${buf.length} bytes exceeds ${maxMessageBytes}`);
  return JSON.parse(buf.toString('utf8')) as T;
}
