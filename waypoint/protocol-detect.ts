// detectProtocol(): what a tunnel carries, from its first bytes (Envoy's http_inspector): the
// HTTP/2 connection preface (prior knowledge, gRPC included), an HTTP/1.x request line, or
// anything else (TCP, proxied with L4 policy only). Pure; the listener feeds it what arrived so far.

export type DetectedProtocol = 'http1' | 'http2' | 'tcp';

const h2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Longest request line we wait for before calling it TCP (Envoy's inspector reads up to 8 KiB). */
export const maxDetectBytes = 8192;

const tokenChar = (c: number): boolean =>
  // RFC 9110 tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~"
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || '!#$%&\'*+-.^_`|~'.includes(String.fromCharCode(c));

/**
 * `undefined` while more bytes could still change the answer. A request line with a lowercase or
 * unknown method is still HTTP/1 (refused with 400 by the HTTP layer), not TCP: detection must not
 * become a way around L7 policy.
 */
export function detectProtocol(head: Buffer, ended = false): DetectedProtocol | undefined {
  const n = Math.min(head.length, h2Preface.length);
  if (head.subarray(0, n).equals(h2Preface.subarray(0, n))) {
    if (head.length >= h2Preface.length) return 'http2';
    return ended ? 'tcp' : undefined;
  }
  // method SP request-target SP HTTP/1.x CRLF
  let i = 0;
  while (i < head.length && i < 32 && tokenChar(head[i]!)) i++;
  if (i === head.length) return ended ? 'tcp' : undefined;
  if (i === 0 || head[i] !== 0x20) return 'tcp';
  const lineEnd = head.indexOf(0x0a, i);
  if (lineEnd === -1) return ended || head.length >= maxDetectBytes ? 'tcp' : undefined;
  const line = head.subarray(i + 1, lineEnd).toString('latin1').replace(/\r$/, '');
  return /^\S+ HTTP\/1\.[01]$/.test(line) ? 'http1' : 'tcp';
}
