// Cidr: an IP address or CIDR block from user config, parsed once so matchers never re-parse.
// Accepts what Go's netip.ParseAddr / netip.ParsePrefix accept, which is what Istio validates
// ipBlocks and `when` IP values with (istio:pkg/config/security/security.go ValidateIPs).
import { isIP } from 'node:net';

export interface Cidr {
  /** The text as the user wrote it (`10.0.0.0/16`, `1.2.3.4`). */
  readonly text: string;
  /** The address part as written; host bits are kept, matchers mask with prefixLength. */
  readonly address: string;
  readonly family: 4 | 6;
  /** 32 or 128 for a single address. */
  readonly prefixLength: number;
}

/** A parsed Cidr, or the reason the text is not one. */
export function parseCidr(text: string): Cidr | { readonly error: string } {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  // Zones (fe80::1%eth0) are accepted by isIP but rejected by netip prefixes and match no peer.
  const family = address.includes('%') ? 0 : isIP(address);
  if (family !== 4 && family !== 6) {
    return { error: `${JSON.stringify(text.slice(0, 80))} is not an IP address or CIDR block (bad address ${JSON.stringify(address.slice(0, 60))})` };
  }
  const max = family === 4 ? 32 : 128;
  if (slash === -1) return { text, address, family, prefixLength: max };
  const bits = text.slice(slash + 1);
  // netip.ParsePrefix: decimal digits, no sign, no leading zero.
  if (!/^(0|[1-9][0-9]{0,2})$/.test(bits)) {
    return { error: `${JSON.stringify(text.slice(0, 80))} is not a valid CIDR block (prefix length ${JSON.stringify(bits.slice(0, 20))} is not a number)` };
  }
  const prefixLength = Number(bits);
  if (prefixLength > max) {
    return { error: `${JSON.stringify(text.slice(0, 80))} is not a valid CIDR block (prefix length ${prefixLength} exceeds ${max} for IPv${family})` };
  }
  return { text, address, family, prefixLength };
}
