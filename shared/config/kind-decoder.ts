// KindDecoder: how one kind is decoded — accepted apiVersions, whether it is namespaced, and the
// function from a FieldReader over the whole document plus decoded metadata to a typed resource.
// Decoder tables (core, security, networking, gateway) are merged in decode.ts.
import type { FieldReader } from './field-reader.js';
import type { ObjectMeta } from './resources.js';

export interface KindDecoder<R> {
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  readonly decode: (doc: FieldReader, meta: ObjectMeta) => R | undefined;
}
