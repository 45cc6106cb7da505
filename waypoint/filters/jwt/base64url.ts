// Strict base64url (RFC 4648 §5, no padding) as JWS requires (RFC 7515 §2): the alphabet only, no
// '=', no whitespace, and canonical trailing bits, so one token has exactly one spelling.

const alphabet = /^[A-Za-z0-9_-]*$/;

/** The decoded bytes, or undefined when `text` is not canonical unpadded base64url. */
export function decodeBase64Url(text: string): Buffer | undefined {
  if (!alphabet.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  // Node ignores non-zero pad bits; re-encoding catches them (e.g. "QQ" vs "QR" both decode to "A").
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export function encodeBase64Url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}
