// The HPACK static table (RFC 7541 §2.3.1, Appendix A): 61 fixed header fields, index 1..61,
// plus a lookup by name (and by name and value) for the stateless encoder.

import type { HeaderField } from './hpack-decoder.js';

/** Appendix A; entry i (0-based) is HPACK index i + 1. */
export const HPACK_STATIC_TABLE: readonly HeaderField[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** The number of static entries; dynamic table entries start at index 62. */
export const HPACK_STATIC_TABLE_LENGTH = 61;

/** A static-table name match: the lowest index with that name, and the indexes by exact value. */
export type HpackStaticNameMatch = {
  readonly nameIndex: number;
  readonly valueIndex: ReadonlyMap<string, number>;
};

/** Static table lookup by lowercase name, for the encoder. */
export const HPACK_STATIC_BY_NAME: ReadonlyMap<string, HpackStaticNameMatch> = buildStaticByName();

function buildStaticByName(): Map<string, HpackStaticNameMatch> {
  const byName = new Map<string, { nameIndex: number; valueIndex: Map<string, number> }>();
  HPACK_STATIC_TABLE.forEach(([name, value], i) => {
    let match = byName.get(name);
    if (match === undefined) {
      match = { nameIndex: i + 1, valueIndex: new Map() };
      byName.set(name, match);
    }
    if (!match.valueIndex.has(value)) match.valueIndex.set(value, i + 1);
  });
  return byName;
}
