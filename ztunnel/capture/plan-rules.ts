// planRules(): the pure capture plan — which nat rules the node's network namespace needs so the
// enrolled local pods' TCP reaches ztunnel (REDIRECT, node-level capture). Rules are written in the
// exact form `iptables-save` prints them back, so drift is found by comparing strings.
import { isIP } from 'node:net';

export const IpFamily = { V4: 'ipv4', V6: 'ipv6' } as const;
export type IpFamily = (typeof IpFamily)[keyof typeof IpFamily];

/** ztunnel's own chains in the nat table, each jumped to from one built-in chain. */
export const CaptureChain = { Prerouting: 'AMBIT-PREROUTING', Output: 'AMBIT-OUTPUT' } as const;
export type CaptureChain = (typeof CaptureChain)[keyof typeof CaptureChain];

export const captureHooks: readonly { readonly chain: CaptureChain; readonly hook: 'PREROUTING' | 'OUTPUT' }[] = [
  { chain: CaptureChain.Prerouting, hook: 'PREROUTING' },
  { chain: CaptureChain.Output, hook: 'OUTPUT' },
];

export interface CapturePorts {
  /** Enrolled pods' outgoing TCP (Istio 15001). */
  readonly outbound: number;
  /** Plaintext TCP to an enrolled pod (Istio 15006). */
  readonly inboundPlaintext: number;
  /** HBONE to an enrolled pod (Istio 15008). */
  readonly hbone: number;
}

export const defaultCapturePorts: CapturePorts = { outbound: 15001, inboundPlaintext: 15006, hbone: 15008 };

export interface CaptureRule {
  readonly chain: CaptureChain;
  /** The rule after `-A <chain> `, exactly as iptables-save prints it. */
  readonly spec: string;
}

export interface RulePlan {
  readonly family: IpFamily;
  readonly table: 'nat';
  /** The enrolled pod IPs the rules are for: valid for the family, canonical, sorted, unique. */
  readonly pods: readonly string[];
  /** Inputs that are not an IP of the family (left out, for a warning). */
  readonly rejected: readonly string[];
  /** Every rule of both chains, in chain order. */
  readonly rules: readonly CaptureRule[];
  readonly ports: CapturePorts;
}

/** The address as iptables-save prints it (IPv6 compressed, lowercase), or undefined. */
export function canonicalIp(ip: string, family: IpFamily): string | undefined {
  if (family === IpFamily.V4) return isIP(ip) === 4 ? ip : undefined;
  if (isIP(ip) !== 6 || ip.includes('%') || ip.includes('.')) return undefined;
  // The WHATWG URL serializer compresses like inet_ntop: the first longest run of ≥ 2 zero groups.
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/**
 * The rules for these enrolled local pods. Order matters, first match wins: every `-s pod`
 * (outbound) rule comes before any `-d pod` rule, so pod→pod on one node goes outbound first
 * and is delivered through ztunnel's inbound afterwards.
 */
export function planRules(
  pods: readonly string[],
  opts: { readonly family?: IpFamily; readonly ports?: CapturePorts } = {},
): RulePlan {
  const family = opts.family ?? IpFamily.V4;
  const ports = opts.ports ?? defaultCapturePorts;
  const accepted = new Set<string>();
  const rejected: string[] = [];
  for (const p of pods) {
    const ip = canonicalIp(p, family);
    if (ip === undefined) rejected.push(p);
    else accepted.add(ip);
  }
  const sorted = [...accepted].sort();
  const hostBits = family === IpFamily.V4 ? 32 : 128;
  const redirect = (port: number): string => `-j REDIRECT --to-ports ${port}`;
  const rules: CaptureRule[] = [];
  const pre = (spec: string): void => {
    rules.push({ chain: CaptureChain.Prerouting, spec });
  };
  for (const ip of sorted) pre(`-s ${ip}/${hostBits} -p tcp ${redirect(ports.outbound)}`);
  for (const ip of sorted) pre(`-d ${ip}/${hostBits} -p tcp -m tcp --dport ${ports.hbone} ${redirect(ports.hbone)}`);
  for (const ip of sorted) pre(`-d ${ip}/${hostBits} -p tcp ${redirect(ports.inboundPlaintext)}`);
  // ztunnel's own HBONE connection to a pod on its node must reach its own inbound listener;
  // nothing else the node originates (ztunnel to the app port, probes) is captured.
  for (const ip of sorted) {
    rules.push({ chain: CaptureChain.Output, spec: `-d ${ip}/${hostBits} -p tcp -m tcp --dport ${ports.hbone} ${redirect(ports.hbone)}` });
  }
  return { family, table: 'nat', pods: sorted, rejected, rules, ports };
}

